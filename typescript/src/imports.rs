//! The static imports of a module, found by swc's parser.
//!
//! A charm of several files is put together by the host, so the host must
//! know which modules each one imports: `import ... from "x"`,
//! `import "x"`, `export ... from "x"` and `export * from "x"`, in the
//! JavaScript QuickJS will compile (a TypeScript module's after
//! stripping, so that `import type` is gone and positions are the
//! author's). Dynamic `import()` is not listed: it is resolved at run time
//! (see the README's "Several files").

use swc_common::{BytePos, Spanned};
use swc_ecma_ast::{ModuleDecl, ModuleItem, Str};
use swc_ecma_parser::{EsSyntax, Parser, StringInput, Syntax};

use crate::swc::line_column;
use crate::StripError;

/// One static import: the specifier as written and where its string is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The specifier, `./parse.ts` or `npm:lodash`.
    pub specifier: String,
    /// 1-based line of the specifier's string literal.
    pub line: u32,
    /// 1-based column (UTF-16 code units) of that literal's opening quote.
    pub column: u32,
}

/// A module ready for QuickJS: its JavaScript and its static imports, in
/// source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The JavaScript (the source itself, or the stripped TypeScript).
    pub javascript: String,
    /// Its static imports, repeated specifiers included.
    pub imports: Vec<Import>,
}

/// The static imports of the JavaScript module `javascript`. Runs on the
/// caller's stack: call it where [`crate::strip`] runs (a child process or
/// a thread with [`crate::STRIP_STACK_BYTES`]).
pub(crate) fn scan(javascript: &str) -> Result<Vec<Import>, StripError> {
    // Positions start at 1: swc keeps 0 for "no position".
    let end = u32::try_from(javascript.len())
        .ok()
        .and_then(|len| len.checked_add(1))
        .ok_or_else(|| StripError::Crashed {
            message: "the module is over 4 GiB".to_string(),
        })?;
    let input = StringInput::new(javascript, BytePos(1), BytePos(end));
    let mut parser = Parser::new(Syntax::Es(EsSyntax::default()), input, None);
    let at = |pos: BytePos| line_column(javascript, (pos.0 as usize).saturating_sub(1));
    let module = parser.parse_module().map_err(|e| {
        let (line, column) = at(e.span().lo);
        StripError::Syntax {
            line,
            column,
            message: e.kind().msg().into_owned(),
        }
    })?;
    if let Some(e) = parser.take_errors().into_iter().next() {
        let (line, column) = at(e.span().lo);
        return Err(StripError::Syntax {
            line,
            column,
            message: e.kind().msg().into_owned(),
        });
    }
    let import = |src: &Str| {
        let (line, column) = at(src.span.lo);
        Import {
            specifier: src.value.to_atom_lossy().as_str().to_string(),
            line,
            column,
        }
    };
    Ok(module
        .body
        .iter()
        .filter_map(|item| match item {
            ModuleItem::ModuleDecl(ModuleDecl::Import(decl)) => Some(import(&decl.src)),
            ModuleItem::ModuleDecl(ModuleDecl::ExportAll(decl)) => Some(import(&decl.src)),
            ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(decl)) => {
                decl.src.as_deref().map(import)
            }
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specifiers(source: &str) -> Vec<(String, u32, u32)> {
        scan(source)
            .unwrap_or_else(|e| panic!("did not scan: {e}"))
            .into_iter()
            .map(|i| (i.specifier, i.line, i.column))
            .collect()
    }

    #[test]
    fn every_static_form_is_found_with_its_place() {
        let source = "import a from './a.js';\nimport './b.js';\n\
                      export { c } from \"./c.ts\";\nexport * from './d.mjs';\n\
                      export const x = 1;\nconst y = import('./dynamic.js');\n";
        assert_eq!(
            specifiers(source),
            vec![
                ("./a.js".to_string(), 1, 15),
                ("./b.js".to_string(), 2, 8),
                ("./c.ts".to_string(), 3, 19),
                ("./d.mjs".to_string(), 4, 15),
            ]
        );
    }

    #[test]
    fn a_syntax_error_has_its_place() {
        let e = scan("const a = 1;\nimport from;\n").unwrap_err();
        assert_eq!(e.location().map(|(line, _)| line), Some(2), "{e}");
    }
}
