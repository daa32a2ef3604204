//! The server's layers import only downwards (`host` → `frontends` → `adapters` → `common`), and
//! front-ends never import each other. Read from the source, so a stray `use` fails here.

use std::path::{Path, PathBuf};

/// From the bottom up: a file in a layer may name its own layer and those before it.
const LAYERS: [&str; 4] = ["common", "adapters", "frontends", "host"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_import_only_downwards_and_front_ends_not_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (rank, layer) in LAYERS.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "no files under src/{layer}");
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("read source");
            let rel = file.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
            for higher in &LAYERS[rank + 1..] {
                if text.contains(&format!("crate::{higher}")) {
                    violations.push(format!("{rel} imports crate::{higher}"));
                }
            }
            // A front-end's own folder is the segment after `frontends/`.
            if *layer == "frontends"
                && let Some(own) = rel.strip_prefix("frontends/").and_then(|r| r.split('/').next())
                && own != "mod.rs"
            {
                for (i, _) in text.match_indices("crate::frontends::") {
                    let sibling: String = text[i + "crate::frontends::".len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if sibling != own {
                        violations.push(format!("{rel} imports the front-end {sibling}"));
                    }
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} files read");
    assert!(violations.is_empty(), "imports against the layering:\n{}", violations.join("\n"));
}
