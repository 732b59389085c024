//! `charm-host types`: the TypeScript types of the charm contract.
//!
//! Owns `charm-host.d.ts` (beside this file): the types of `bgUpdater`,
//! its `ctx` and the sandbox's globals, for a charm author's editor. The
//! file is the source of truth; this module only embeds it.

/// The text of `charm-host.d.ts`, printed by `charm-host types`.
pub const CHARM_HOST_D_TS: &str = include_str!("charm-host.d.ts");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declarations_parse_as_typescript() {
        // The stripper that compiles charms parses it; declarations strip
        // to whitespace (and the `;` that keeps statements apart), leaving
        // only comments.
        let stripped = charm_typescript::strip("charm-host.d.ts", CHARM_HOST_D_TS);
        let stripped = stripped.unwrap_or_else(|e| panic!("charm-host.d.ts: {e}"));
        assert_eq!(stripped.lines().count(), CHARM_HOST_D_TS.lines().count());
        let mut code = String::new();
        let mut rest = stripped.as_str();
        while let Some(start) = rest.find("/*") {
            code.push_str(&rest[..start]);
            let end = rest[start..]
                .find("*/")
                .map_or(rest.len(), |e| start + e + 2);
            rest = &rest[end..];
        }
        code.push_str(rest);
        let code: String = code
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<String>()
            .replace(';', "");
        assert!(code.trim().is_empty(), "only types: {code:?}");
    }

    #[test]
    fn it_types_the_whole_context() {
        for field in [
            "charmId",
            "space",
            "integration",
            "runId",
            "input",
            "events",
            "now",
            "attempt",
            "idempotencyKey",
            "scheduleNext",
        ] {
            assert!(
                CHARM_HOST_D_TS.contains(&format!("  {field}"))
                    || CHARM_HOST_D_TS.contains(&format!("readonly {field}")),
                "ctx.{field} is not typed"
            );
        }
    }
}
