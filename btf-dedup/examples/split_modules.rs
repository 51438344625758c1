//! Split dedup of many modules on one vmlinux, in one process: the
//! benchmark behind `bench/dedup-modules.sh`.
//!
//!     split_modules each|prepared|memory VMLINUX MODULE...
//!
//! `each` lays the base out again for every module (what `dedup_raw` with a
//! base does, and all btf-dedup did before `PreparedBase`); `prepared` lays
//! it out once and calls `PreparedBase::dedup_raw`; `memory` does the same
//! from parsed `Btf`s with `PreparedBase::dedup` (no bytes either way).
//! Reading the modules is not timed; the dedup phase is, and printed with
//! the number of modules and of output bytes (the same in every mode).

use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, vmlinux, mods) = match args.as_slice() {
        [m, v, rest @ ..] if !rest.is_empty() => (m.as_str(), v, rest),
        _ => return Err("usage: split_modules each|prepared|memory VMLINUX MODULE...".into()),
    };
    let base = Arc::new(btf::load(vmlinux)?);
    let raws: Vec<Vec<u8>> = mods
        .iter()
        .map(|p| Ok(btf::read::raw_btf_bytes(&std::fs::read(p)?)?.into_owned()))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let opts = btf_dedup::Options::default();
    let parsed: Vec<btf::Btf> = if mode == "memory" {
        raws.iter()
            .map(|r| btf::Btf::parse_split(r, base.clone()))
            .collect::<btf::Result<_>>()?
    } else {
        Vec::new()
    };
    let t = Instant::now();
    let mut bytes = 0usize;
    match mode {
        "each" => {
            for r in &raws {
                bytes += btf_dedup::dedup_raw(r, Some(&base), &opts)?.len();
            }
        }
        "prepared" => {
            let p = btf_dedup::PreparedBase::new(&base)?;
            for r in &raws {
                bytes += p.dedup_raw(r, &opts)?.len();
            }
        }
        "memory" => {
            let p = btf_dedup::PreparedBase::new(&base)?;
            for m in &parsed {
                bytes += p.dedup(m, &opts)?.to_bytes().len();
            }
        }
        _ => return Err(format!("unknown mode {mode}").into()),
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{mode}: {} modules, {bytes} bytes out, {secs:.3} s",
        raws.len()
    );
    Ok(())
}
