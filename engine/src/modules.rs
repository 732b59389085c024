//! Charms of several files: an entry module and the relative modules it
//! imports, put together by the host.
//!
//! Owns [`CharmSource`] (the entry's name and source, and the other modules
//! by their path relative to the entry's folder), the rules for what a
//! charm may import, and the order modules are compiled in. It reads files
//! only through a loader its caller gives ([`CharmSource::read`] reads a
//! folder); it never compiles (see `compile`).
//!
//! Why each module stays a module: the guest compiles each to bytecode of
//! its own under its own name (`lib/parse.ts`), and a run loads them all
//! before importing the entry, so that QuickJS links `import`s by name as
//! ES modules do, and every error and stack names the file, line and column
//! the author wrote (a bundle into one file would need source maps).
//!
//! The rules: a specifier is a relative path (`./x.ts`, `../x.js` while it
//! stays inside the entry's folder) written with its extension (`.js`,
//! `.mjs`, `.ts`, `.mts`). Packages (`lodash`, `npm:x`, `node:fs`) and URLs
//! are refused with how to bundle them (esbuild); cycles are refused with
//! their chain, as is a missing module. At most [`MAX_MODULES`] modules, and
//! [`MAX_SOURCE_BYTES`] of source in all. Dynamic `import()` is not
//! followed: at run time it finds only the charm's modules already loaded.

// `CompileError` is returned by value, as the compile step's async
// functions do; these run once per compile, never per run.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::compile::{typescript_error, CompileError, MAX_SOURCE_BYTES};

/// The most modules one charm may have, its entry included: 64.
pub const MAX_MODULES: usize = 64;

/// The longest module path accepted, in bytes: 256.
const MAX_PATH_BYTES: usize = 256;

/// The extensions a module's file may have.
const EXTENSIONS: [&str; 4] = [".js", ".mjs", ".ts", ".mts"];

/// The key that marks a stored source of several files (see
/// [`CharmSource::stored`]).
const STORED_KEY: &str = "charm-host-modules";

/// A charm's source: its entry module and the modules it imports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharmSource {
    /// The entry's module name (`main.ts`; the CLI gives the path it was
    /// given, `dir/main.ts`). Other modules' names are its folder joined
    /// with their path.
    pub name: String,
    /// The entry's source.
    pub source: String,
    /// The other modules, by path relative to the entry's folder
    /// (`parse.ts`, `lib/util.js`): empty for a charm of one file.
    pub modules: BTreeMap<String, String>,
}

/// A stored source that claims to be several files but does not decode.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the stored modules do not decode: {0}")]
pub struct StoredSourceError(String);

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    #[serde(rename = "charm-host-modules")]
    version: u32,
    entry: String,
    modules: BTreeMap<String, String>,
}

impl CharmSource {
    /// A charm of one file.
    pub fn single(name: impl Into<String>, source: impl Into<String>) -> CharmSource {
        CharmSource {
            name: name.into(),
            source: source.into(),
            modules: BTreeMap::new(),
        }
    }

    /// Its size: every module's source, in bytes.
    pub fn total_bytes(&self) -> usize {
        self.source.len() + self.modules.values().map(String::len).sum::<usize>()
    }

    /// The one text it is stored as: the source itself for one file (as
    /// before charms had several); for several,
    /// `{"charm-host-modules":1,"entry":"...","modules":{"parse.ts":"..."}}`
    /// (compact, paths sorted). A JSON object with a member is never a
    /// valid JavaScript or TypeScript module (`{"a":` is a block whose
    /// string is followed by a colon), so no source of one file that ever
    /// compiled reads as several.
    pub fn stored(&self) -> String {
        if self.modules.is_empty() {
            return self.source.clone();
        }
        let stored = Stored {
            version: 1,
            entry: self.source.clone(),
            modules: self.modules.clone(),
        };
        // Strings and a map of strings always serialise.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Hex sha256 of [`CharmSource::stored`]: of the source, for one file.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.stored().as_bytes()))
    }

    /// Reads what [`CharmSource::stored`] wrote, for the entry `name`.
    ///
    /// # Errors
    /// [`StoredSourceError`] when the text is marked as several files but
    /// does not decode.
    pub fn from_stored(name: &str, stored: &str) -> Result<CharmSource, StoredSourceError> {
        if !stored.starts_with(&format!("{{\"{STORED_KEY}\":")) {
            return Ok(CharmSource::single(name, stored));
        }
        let decoded: Stored =
            serde_json::from_str(stored).map_err(|e| StoredSourceError(e.to_string()))?;
        if decoded.version != 1 {
            return Err(StoredSourceError(format!(
                "unknown version {}",
                decoded.version
            )));
        }
        Ok(CharmSource {
            name: name.to_string(),
            source: decoded.entry,
            modules: decoded.modules,
        })
    }

    /// Reads every module this charm's entry imports, directly or not, from
    /// `folder` (the entry file's folder), replacing [`CharmSource::modules`].
    /// Blocks: it reads files, and lists imports in a child process (see
    /// `charm_typescript::prepare`).
    ///
    /// # Errors
    /// [`CompileError`]: an import breaks the rules (a package, a cycle, a
    /// missing file: see the module docs) or a file cannot be read.
    pub fn read_imports(mut self, folder: &Path) -> Result<CharmSource, CompileError> {
        self.modules.clear();
        let mut load = |path: &str| -> Result<Option<String>, String> {
            let file: PathBuf = folder.join(path);
            match read_capped(&file) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read `{}`: {e}", file.display())),
            }
        };
        let graph = collect(&self, &mut load)?;
        self.modules = graph.used;
        Ok(self)
    }
}

/// A file's text, refusing one over [`MAX_SOURCE_BYTES`] before reading it.
fn read_capped(path: &Path) -> std::io::Result<String> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_SOURCE_BYTES as u64 {
        return Err(std::io::Error::other(format!(
            "it is {size} bytes, over the source limit of {MAX_SOURCE_BYTES} bytes"
        )));
    }
    std::fs::read_to_string(path)
}

/// One module, ready to compile.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Its QuickJS name: what errors and stacks show.
    pub name: String,
    /// Its JavaScript (TypeScript stripped).
    pub javascript: String,
}

/// A charm's modules in compile order.
#[derive(Debug)]
pub(crate) struct Graph {
    /// Every module after those it imports; the entry last.
    pub order: Vec<Node>,
    /// The modules reached from the entry, by path, with their sources.
    pub used: BTreeMap<String, String>,
}

/// Lists the modules `charm`'s entry reaches, loading each through `load`
/// (`Ok(None)`: no such module; `Err`: it could not be read). Blocks.
///
/// A JavaScript entry with no other modules whose imports cannot be listed
/// (swc does not parse it) is compiled alone, as before charms had several
/// files: QuickJS then reports its syntax error in its own words.
pub(crate) fn collect(
    charm: &CharmSource,
    load: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Graph, CompileError> {
    check_paths(charm)?;
    if charm.total_bytes() > MAX_SOURCE_BYTES {
        return Err(CompileError::TooLarge {
            file: charm.name.clone(),
            size: charm.total_bytes(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    let entry_path = charm
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&charm.name)
        .to_string();
    let folder = charm
        .name
        .rfind('/')
        .map(|at| charm.name[..=at].to_string())
        .unwrap_or_default();
    let mut walk = Walk {
        entry: &charm.name,
        folder,
        load,
        stack: Vec::new(),
        done: BTreeSet::new(),
        order: Vec::new(),
        used: BTreeMap::new(),
        bytes: charm.source.len(),
    };
    let typescript = charm_typescript::is_typescript(&charm.name);
    let may_import = typescript || charm.source.contains("import") || charm.source.contains("from");
    if !may_import && charm.modules.is_empty() {
        // No `import` and no `export ... from`: nothing to list.
        walk.order.push(Node {
            name: charm.name.clone(),
            javascript: charm.source.clone(),
        });
    } else {
        match charm_typescript::prepare(&charm.name, &charm.source) {
            Ok(prepared) => walk.visit(&entry_path, prepared)?,
            Err(_) if !typescript && charm.modules.is_empty() => walk.order.push(Node {
                name: charm.name.clone(),
                javascript: charm.source.clone(),
            }),
            Err(e) => return Err(typescript_error(&charm.name, e)),
        }
    }
    Ok(Graph {
        order: walk.order,
        used: walk.used,
    })
}

/// Checks the paths of `charm`'s other modules: each as an import would
/// name it once resolved.
fn check_paths(charm: &CharmSource) -> Result<(), CompileError> {
    let entry_path = charm.name.rsplit('/').next().unwrap_or(&charm.name);
    for path in charm.modules.keys() {
        let problem = if path == entry_path {
            Some(format!(
                "the entry `{entry_path}` is not one of its own modules: send its source as `source`"
            ))
        } else {
            check_path(path).err()
        };
        if let Some(problem) = problem {
            return Err(CompileError::Modules {
                file: charm.name.clone(),
                message: format!("module path `{path}` is not valid: {problem}"),
            });
        }
    }
    Ok(())
}

/// Whether `path` is a normal relative path of a module: segments of
/// letters, digits, `.`, `_`, `-` and `@`, none `.` or `..`, and one of
/// [`EXTENSIONS`].
fn check_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH_BYTES {
        return Err(format!("a path is at most {MAX_PATH_BYTES} bytes"));
    }
    let normal = path.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    });
    if !normal {
        return Err(
            "write it relative to the entry's folder, like `lib/parse.ts`: segments of letters, \
             digits, `.`, `_`, `-` or `@`, without `.` or `..`"
                .to_string(),
        );
    }
    if !EXTENSIONS.iter().any(|ext| path.ends_with(ext)) {
        return Err(
            "a module's file name ends in .js, .mjs, .ts or .mts (write it in imports too)"
                .to_string(),
        );
    }
    Ok(())
}

/// Why a specifier does not name one of the charm's modules.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    /// A package (`lodash`, `npm:x`, `node:fs`, `jsr:x`) or a URL.
    Package,
    /// `/x.js`.
    Absolute,
    /// `../` past the entry's folder.
    Outside,
    /// A path that is not [`check_path`]'s.
    NotNormal(String),
}

/// The path (relative to the entry's folder) that `specifier` names from
/// the module at `importer` (a path too). Follows QuickJS's own
/// normalisation, which only handles leading `./` and `../`, so that the
/// name the host gives a module is the name QuickJS looks it up by.
fn resolve(importer: &str, specifier: &str) -> Result<String, Refused> {
    if specifier.starts_with('/') {
        return Err(Refused::Absolute);
    }
    if !specifier.starts_with("./") && !specifier.starts_with("../") {
        return Err(Refused::Package);
    }
    let mut folder: Vec<&str> = importer.split('/').collect();
    folder.pop();
    let mut rest = specifier;
    loop {
        if let Some(after) = rest.strip_prefix("./") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix("../") {
            folder.pop().ok_or(Refused::Outside)?;
            rest = after;
        } else {
            break;
        }
    }
    folder.push(rest);
    let path = folder.join("/");
    check_path(&path).map_err(Refused::NotNormal)?;
    Ok(path)
}

/// A depth-first walk of the imports from the entry.
struct Walk<'a> {
    entry: &'a str,
    /// The entry's folder as a name prefix (`dir/`, or empty).
    folder: String,
    load: &'a mut dyn FnMut(&str) -> Result<Option<String>, String>,
    /// The paths being visited, the entry first: the chain to the current
    /// module.
    stack: Vec<String>,
    done: BTreeSet<String>,
    order: Vec<Node>,
    used: BTreeMap<String, String>,
    bytes: usize,
}

impl Walk<'_> {
    fn name(&self, path: &str) -> String {
        if self.stack.is_empty() {
            self.entry.to_string()
        } else {
            format!("{}{path}", self.folder)
        }
    }

    fn visit(
        &mut self,
        path: &str,
        prepared: charm_typescript::Prepared,
    ) -> Result<(), CompileError> {
        let name = self.name(path);
        self.stack.push(path.to_string());
        for import in &prepared.imports {
            let refuse = |message: String| CompileError::Import {
                file: name.clone(),
                line: import.line,
                column: import.column,
                message: format!("cannot import \"{}\": {message}", import.specifier),
            };
            let target =
                resolve(path, &import.specifier).map_err(|why| refuse(self.explain(why)))?;
            if self.stack.contains(&target) {
                let chain = self.stack.join(" -> ");
                return Err(refuse(format!(
                    "{chain} -> {target} is a cycle, which charm-host does not bundle; \
                     move what these modules share into one that each imports"
                )));
            }
            if self.done.contains(&target) {
                continue;
            }
            let chain = || format!("{} -> {target}", self.stack.join(" -> "));
            let source = match (self.load)(&target) {
                Ok(Some(source)) => source,
                Ok(None) => {
                    return Err(refuse(format!(
                        "there is no module `{target}` ({})",
                        chain()
                    )))
                }
                Err(e) => return Err(refuse(format!("{e} ({})", chain()))),
            };
            self.bytes += source.len();
            if self.bytes > MAX_SOURCE_BYTES {
                return Err(CompileError::Modules {
                    file: self.entry.to_string(),
                    message: format!(
                        "its modules are over the source limit of {MAX_SOURCE_BYTES} bytes \
                         together (at {})",
                        chain()
                    ),
                });
            }
            if self.used.len() + 2 > MAX_MODULES {
                return Err(CompileError::Modules {
                    file: self.entry.to_string(),
                    message: format!(
                        "it imports more than {MAX_MODULES} modules (at {}); \
                         bundle some of them into one",
                        chain()
                    ),
                });
            }
            let target_name = format!("{}{target}", self.folder);
            let prepared = charm_typescript::prepare(&target_name, &source)
                .map_err(|e| typescript_error(&target_name, e))?;
            self.used.insert(target.clone(), source);
            self.visit(&target, prepared)?;
        }
        self.stack.pop();
        self.done.insert(path.to_string());
        self.order.push(Node {
            name,
            javascript: prepared.javascript,
        });
        Ok(())
    }

    fn explain(&self, why: Refused) -> String {
        let entry = self.entry.rsplit('/').next().unwrap_or(self.entry);
        match why {
            Refused::Package => format!(
                "a charm imports only its own files, by relative path (\"./parse.ts\"); \
                 bundle packages into one module first, for example \
                 `npx esbuild {entry} --bundle --format=esm --outfile=charm.js`"
            ),
            Refused::Absolute => {
                "write the path relative to this file, starting with ./ or ../".to_string()
            }
            Refused::Outside => format!(
                "it is outside the charm's folder (the folder of {entry}); \
                 move the file into it"
            ),
            Refused::NotNormal(problem) => problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers_resolve_as_quickjs_normalises_them() {
        assert_eq!(resolve("main.ts", "./parse.ts"), Ok("parse.ts".into()));
        assert_eq!(resolve("lib/a.js", "./b.js"), Ok("lib/b.js".into()));
        assert_eq!(resolve("lib/a.js", "../b.js"), Ok("b.js".into()));
        assert_eq!(resolve("lib/x/a.js", "./.././b.js"), Ok("lib/b.js".into()));
        assert_eq!(resolve("main.ts", "../b.js"), Err(Refused::Outside));
        assert_eq!(resolve("main.ts", "lodash"), Err(Refused::Package));
        assert_eq!(resolve("main.ts", "npm:lodash"), Err(Refused::Package));
        assert_eq!(
            resolve("main.ts", "https://x.test/a.js"),
            Err(Refused::Package)
        );
        assert_eq!(resolve("main.ts", "/abs.js"), Err(Refused::Absolute));
        assert!(matches!(
            resolve("main.ts", "./a/../b.js"),
            Err(Refused::NotNormal(_))
        ));
        assert!(matches!(
            resolve("main.ts", "./parse"),
            Err(Refused::NotNormal(_))
        ));
        assert!(matches!(
            resolve("main.ts", ".//b.js"),
            Err(Refused::NotNormal(_))
        ));
    }

    #[test]
    fn one_file_is_stored_as_itself_and_several_as_json() {
        let one = CharmSource::single("c.js", "export const x = 1;");
        assert_eq!(one.stored(), "export const x = 1;");
        assert_eq!(
            CharmSource::from_stored("c.js", &one.stored()).unwrap(),
            one
        );
        let mut several = CharmSource::single("main.ts", "import './a.ts';");
        several.modules.insert("a.ts".into(), "export {};".into());
        let text = several.stored();
        assert!(text.starts_with("{\"charm-host-modules\":1,"), "{text}");
        assert_eq!(CharmSource::from_stored("main.ts", &text).unwrap(), several);
        assert!(CharmSource::from_stored("main.ts", "{\"charm-host-modules\":1}").is_err());
        // A source that merely starts with an object is one file.
        let block = CharmSource::from_stored("c.js", "{ let a = 1; }").unwrap();
        assert!(block.modules.is_empty());
    }

    fn graph(charm: &CharmSource) -> Result<Graph, CompileError> {
        let modules = charm.modules.clone();
        collect(charm, &mut |path: &str| Ok(modules.get(path).cloned()))
    }

    #[test]
    fn modules_come_after_their_imports_and_unused_ones_are_left_out() {
        let mut charm = CharmSource::single(
            "dir/main.js",
            "import { a } from './lib/a.js';\nimport './b.js';\nexport function bgUpdater() {}\n",
        );
        charm.modules.insert(
            "lib/a.js".into(),
            "import '../b.js';\nexport const a = 1;".into(),
        );
        charm.modules.insert("b.js".into(), "export {};".into());
        charm
            .modules
            .insert("unused.js".into(), "export {};".into());
        let graph = graph(&charm).unwrap();
        let names: Vec<&str> = graph.order.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["dir/b.js", "dir/lib/a.js", "dir/main.js"]);
        assert_eq!(graph.used.keys().collect::<Vec<_>>(), ["b.js", "lib/a.js"]);
    }

    #[test]
    fn cycles_and_missing_modules_name_the_chain() {
        let mut charm = CharmSource::single("main.js", "import './a.js';\n");
        charm
            .modules
            .insert("a.js".into(), "\nimport './main.js';".into());
        let e = graph(&charm).unwrap_err().to_string();
        assert!(
            e.starts_with("a.js:2:8: cannot import \"./main.js\""),
            "{e}"
        );
        assert!(e.contains("main.js -> a.js -> main.js is a cycle"), "{e}");
        charm
            .modules
            .insert("a.js".into(), "import './gone.js';".into());
        let e = graph(&charm).unwrap_err().to_string();
        assert!(
            e.contains("no module `gone.js` (main.js -> a.js -> gone.js)"),
            "{e}"
        );
        let e = graph(&CharmSource::single("main.js", "import 'npm:x';")).unwrap_err();
        assert!(
            e.to_string().contains("npx esbuild main.js --bundle"),
            "{e}"
        );
        assert_eq!(e.location(), Some((1, 8)));
    }

    #[test]
    fn bad_module_paths_are_refused() {
        for bad in ["../x.js", "a//b.js", "x", "main.js", "/abs.js"] {
            let mut charm = CharmSource::single("main.js", "export {};");
            charm.modules.insert(bad.into(), String::new());
            let e = graph(&charm).unwrap_err();
            assert!(matches!(e, CompileError::Modules { .. }), "{bad}: {e}");
        }
    }
}
