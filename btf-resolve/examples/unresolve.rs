//! `cargo run -p btf-resolve --example unresolve -- IN OUT [-b BASE]`: writes
//! OUT, a copy of the resolved ELF IN with `.BTF_ids` put back as the linker
//! left it (slots and counts 0, set8 flags beside their slots), for tests and
//! `bench/resolve.sh`.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match (args.first(), args.get(1)) {
        (Some(i), Some(o)) => (PathBuf::from(i), PathBuf::from(o)),
        _ => {
            eprintln!("usage: unresolve IN OUT [-b BASE]");
            std::process::exit(2);
        }
    };
    let base = match (args.get(2).map(String::as_str), args.get(3)) {
        (Some("-b"), Some(b)) => Some(PathBuf::from(b)),
        _ => None,
    };
    let src = btf_resolve::Sources { btf: None, base };
    match btf_resolve::unresolve_file(&input, &output, &src) {
        Ok(true) => {}
        Ok(false) => eprintln!("{}: no .BTF_ids to unresolve; copied", input.display()),
        Err(e) => {
            eprintln!("unresolve: {e}");
            std::process::exit(1);
        }
    }
}
