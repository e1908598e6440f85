//! The resolved configs committed under `results/` still load, to the same config: the typed
//! estimator ids and the config overlay read and write the text they were written with.

use std::path::Path;

use maxk_experiments::Config;

#[test]
fn committed_experiment_configs_load_and_keep_their_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    for dir in ["reproduce", "maze"] {
        let path = root.join(dir).join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for quick in [false, true] {
            let cfg = Config::load(&path, quick).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A resolved config names every key, so the base (default or quick) does not matter,
            // and writing it again gives the committed text.
            assert_eq!(cfg.to_toml(), text, "{}", path.display());
        }
    }
}
