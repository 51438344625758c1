//! `--btf_features=LIST`, `--btf_features_strict=LIST` and
//! `--supported_btf_features`, with pahole's (1.26+) semantics:
//!
//! - the first `--btf_features` turns every feature off (the skip flags
//!   become "skip", floats "no"), then each listed feature is turned on;
//!   several `--btf_features` options add up;
//! - `default` turns on the default set; a list starting with `+` turns on
//!   the default set and then the listed features;
//! - an unknown name is a warning naming it (pahole says it only under `-V`;
//!   we always say it), and an error under `--btf_features_strict`.
//!
//! Beyond pahole: a feature pahole knows but this encoder does not implement
//! yet is an error naming it, never silently dropped, and
//! `--supported_btf_features` lists only what is implemented.

use crate::Options;

/// One feature: its name, whether `default` includes it, and whether this
/// encoder implements it.
struct Feature {
    name: &'static str,
    default: bool,
    implemented: bool,
}

/// pahole 1.31's features, in its order.
const FEATURES: &[Feature] = &[
    Feature {
        name: "encode_force",
        default: true,
        implemented: true,
    },
    Feature {
        name: "var",
        default: true,
        implemented: true,
    },
    Feature {
        name: "float",
        default: true,
        implemented: true,
    },
    Feature {
        name: "decl_tag",
        default: true,
        implemented: true,
    },
    Feature {
        name: "type_tag",
        default: true,
        implemented: true,
    },
    Feature {
        name: "enum64",
        default: true,
        implemented: true,
    },
    Feature {
        name: "optimized_func",
        default: true,
        implemented: true,
    },
    Feature {
        name: "consistent_func",
        default: true,
        implemented: true,
    },
    Feature {
        name: "decl_tag_kfuncs",
        default: true,
        implemented: true,
    },
    // Our output never depends on threads or scheduling: always on.
    Feature {
        name: "reproducible_build",
        default: false,
        implemented: true,
    },
    Feature {
        name: "distilled_base",
        default: false,
        implemented: true,
    },
    Feature {
        name: "global_var",
        default: false,
        implemented: true,
    },
    Feature {
        name: "attributes",
        default: false,
        implemented: false,
    },
];

/// The comma-separated list `--supported_btf_features` prints.
pub fn supported() -> String {
    FEATURES
        .iter()
        .filter(|f| f.implemented)
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The state of the feature options across a command line.
#[derive(Debug, Default)]
pub struct FeatureSet {
    started: bool,
    on: Vec<&'static str>,
}

impl FeatureSet {
    /// Applies one `--btf_features` (or, `strict`, `--btf_features_strict`)
    /// list. Returns the warnings to print; an error for an unknown name under
    /// `strict`, or for a feature this encoder does not implement.
    pub fn apply(&mut self, list: &str, strict: bool) -> Result<Vec<String>, String> {
        self.started = true;
        let mut warnings = Vec::new();
        let mut rest = list;
        if list == "default" {
            self.enable_default();
            return self.check().map(|()| warnings);
        }
        if let Some(r) = list.strip_prefix('+') {
            self.enable_default();
            rest = r;
        }
        for name in rest.split(',').filter(|n| !n.is_empty()) {
            match FEATURES.iter().find(|f| f.name == name) {
                Some(f) => self.enable(f.name),
                None if name == "default" => self.enable_default(),
                None if strict => {
                    return Err(format!(
                        "Feature '{name}' in '{list}' is not supported.  Supported BTF features are:\n{}",
                        supported()
                    ))
                }
                None => warnings.push(format!("Ignoring unsupported feature '{name}'")),
            }
        }
        self.check().map(|()| warnings)
    }

    fn enable(&mut self, name: &'static str) {
        if !self.on.contains(&name) {
            self.on.push(name);
        }
    }

    fn enable_default(&mut self) {
        for f in FEATURES.iter().filter(|f| f.default) {
            self.enable(f.name);
        }
    }

    fn check(&self) -> Result<(), String> {
        let missing: Vec<&str> = FEATURES
            .iter()
            .filter(|f| !f.implemented && self.on.contains(&f.name))
            .map(|f| f.name)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "BTF feature{} {} not implemented by btf-encode yet (supported: {})",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                supported()
            ))
        }
    }

    /// Whether a feature is on.
    pub fn has(&self, name: &str) -> bool {
        self.on.contains(&name)
    }

    /// Sets the options the features decide, when any `--btf_features` was
    /// given (otherwise the individual flags stand, as in pahole).
    pub fn apply_to(&self, opts: &mut Options) {
        if !self.started {
            return;
        }
        opts.force = self.has("encode_force");
        opts.skip_encoding_vars = !self.has("var");
        opts.gen_floats = self.has("float");
        opts.skip_encoding_decl_tag = !self.has("decl_tag");
        opts.skip_encoding_type_tag = !self.has("type_tag");
        opts.skip_encoding_enum64 = !self.has("enum64");
        opts.new_functions = self.has("optimized_func") || self.has("consistent_func");
        opts.skip_inconsistent_proto = self.has("consistent_func");
        opts.tag_kfuncs = self.has("decl_tag_kfuncs");
        opts.global_var = self.has("global_var");
        opts.distilled_base = self.has("distilled_base");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_resets_then_enables() {
        let mut f = FeatureSet::default();
        assert!(f.apply("var,float", false).unwrap().is_empty());
        let mut o = Options {
            skip_encoding_vars: true,
            ..Options::default()
        };
        f.apply_to(&mut o);
        assert!(!o.skip_encoding_vars && o.gen_floats);
        assert!(o.skip_encoding_decl_tag && o.skip_encoding_type_tag && o.skip_encoding_enum64);
        assert!(!o.force);
    }

    #[test]
    fn unknown_warns_or_fails_strict() {
        let mut f = FeatureSet::default();
        let w = f.apply("var,frobnicate", false).unwrap();
        assert_eq!(w, ["Ignoring unsupported feature 'frobnicate'"]);
        let e = FeatureSet::default().apply("frobnicate", true).unwrap_err();
        assert!(e.starts_with("Feature 'frobnicate' in 'frobnicate' is not supported."));
    }

    #[test]
    fn unimplemented_is_an_error() {
        let e = FeatureSet::default()
            .apply("var,attributes", false)
            .unwrap_err();
        assert!(e.contains("attributes"), "{e}");
        assert!(FeatureSet::default().apply("default", false).is_ok());
        assert!(FeatureSet::default()
            .apply("var,reproducible_build,global_var,distilled_base", false)
            .is_ok());
    }

    #[test]
    fn function_features_set_the_new_rules() {
        let mut f = FeatureSet::default();
        f.apply("optimized_func", false).unwrap();
        let mut o = Options::default();
        f.apply_to(&mut o);
        assert!(o.new_functions && !o.skip_inconsistent_proto && !o.tag_kfuncs);
        let mut f = FeatureSet::default();
        f.apply("default", false).unwrap();
        f.apply_to(&mut o);
        assert!(o.new_functions && o.skip_inconsistent_proto && o.tag_kfuncs);
        assert!(!o.global_var && !o.distilled_base);
    }

    #[test]
    fn supported_lists_what_is_implemented() {
        assert_eq!(
            supported(),
            "encode_force,var,float,decl_tag,type_tag,enum64,optimized_func,consistent_func,\
             decl_tag_kfuncs,reproducible_build,distilled_base,global_var"
        );
    }

    #[test]
    fn options_add_up() {
        let mut f = FeatureSet::default();
        f.apply("var", false).unwrap();
        f.apply("type_tag", false).unwrap();
        assert!(f.has("var") && f.has("type_tag") && !f.has("float"));
    }
}
