//! Parse then write gives back the same bytes, for every real input we have:
//! the running kernel's BTF, the Debian 6.1 vmlinux `.BTF`, and every module
//! `.BTF` of that kernel as split BTF on it. Also across byte orders and zstd.

use std::sync::Arc;

use btf::{Btf, Endian};
use btfkit_tests::*;

fn roundtrip_file(path: &std::path::Path, base: Option<Arc<Btf>>) -> Result<usize, String> {
    let data = btf::read::file::read_file(path).map_err(|e| e.to_string())?;
    let raw = btf::read::raw_btf_bytes(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    let btf = btf::parse_any(&data, base).map_err(|e| format!("{}: {e}", path.display()))?;
    if btf.to_bytes() != *raw {
        return Err(format!(
            "{}: written bytes differ from the input",
            path.display()
        ));
    }
    Ok(btf.own_type_count())
}

#[test]
fn sysfs_vmlinux_roundtrips() {
    let Some(p) = oracle_file(SYS_VMLINUX) else {
        return;
    };
    let n = roundtrip_file(&p, None).unwrap();
    assert!(n > 10_000, "only {n} types");
}

#[test]
fn sysfs_modules_roundtrip_on_their_base() {
    let Some(_) = oracle_file(SYS_VMLINUX) else {
        return;
    };
    if !kernel_has_modules() {
        // No module can ever be under /sys/kernel/btf: check what sysfs would
        // show for a module, a 6.1 module's raw split BTF, on its vmlinux.
        let Some(v) = oracle_file(VMLINUX_61) else {
            return;
        };
        let dir = std::env::temp_dir();
        let Some(m) = module_61_as_sysfs(&dir) else {
            return;
        };
        let base = Arc::new(btf::load(&v).unwrap());
        let n = roundtrip_file(&m, Some(base)).unwrap();
        assert!(n > 0, "{}: no types", m.display());
        eprintln!(
            "kernel without modules: {} round-tripped on the 6.1 vmlinux instead",
            m.display()
        );
        let _ = std::fs::remove_file(&m);
        return;
    }
    let base = Arc::new(btf::load(SYS_VMLINUX).unwrap());
    let mut n = 0;
    for e in std::fs::read_dir("/sys/kernel/btf").unwrap().flatten() {
        if e.file_name() == "vmlinux" {
            continue;
        }
        roundtrip_file(&e.path(), Some(base.clone())).unwrap();
        // The automatic base must give the same result.
        let auto = btf::load(e.path()).unwrap();
        assert_eq!(auto.start_id(), base.type_count());
        n += 1;
    }
    // Checking no module is no check: a kernel without a module with BTF
    // loaded is a missing oracle (a skip locally, a failure in CI).
    if oracle(n > 0, "a module with BTF under /sys/kernel/btf") {
        eprintln!("{n} sysfs modules round-tripped");
    }
}

#[test]
fn vmlinux_61_roundtrips() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let n = roundtrip_file(&p, None).unwrap();
    assert_eq!(n + 1, 95069, "the 6.1 vmlinux has 95068 types");
}

#[test]
fn every_61_module_roundtrips_on_vmlinux() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let base = Arc::new(btf::load(&p).unwrap());
    let mods = modules_61();
    if !oracle(mods.len() == 1121, "the 1121 Debian 6.1 modules") {
        return;
    }
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = mods
            .chunks(mods.len().div_ceil(4))
            .map(|c| {
                let base = base.clone();
                s.spawn(move || {
                    c.iter()
                        .filter_map(|m| roundtrip_file(m, Some(base.clone())).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} modules failed: {:?}",
        failures.len(),
        mods.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
fn byte_order_swaps_roundtrip() {
    let Some(p) = oracle_file(SYS_VMLINUX) else {
        return;
    };
    let le = btf::load(&p).unwrap();
    let mut be = le.clone();
    be.set_endian(Endian::Big);
    let be_bytes = be.to_bytes();
    assert_eq!(&be_bytes[..2], &[0xeb, 0x9f]);
    let back = Btf::parse(&be_bytes).unwrap();
    assert_eq!(back.endian(), Endian::Big);
    assert_eq!(back.own_type_slice(), le.own_type_slice());
    assert_eq!(back.to_bytes(), be_bytes);
    let mut again = back;
    again.set_endian(Endian::Little);
    assert_eq!(again.to_bytes(), std::fs::read(&p).unwrap());
}

#[test]
fn zstd_compressed_module_loads() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    if !oracle_program("zstd") {
        return;
    }
    let base = Arc::new(btf::load(&p).unwrap());
    let m = modules_61()
        .into_iter()
        .find(|m| m.extension().is_some_and(|e| e == "ko"));
    let Some(m) = m else {
        oracle(false, "an uncompressed 6.1 module (.ko)");
        return;
    };
    let plain = std::fs::read(&m).unwrap();
    let packed = zstd_compress(&plain);
    assert_ne!(packed, plain);
    let a = btf::parse_any(&plain, Some(base.clone())).unwrap();
    let b = btf::parse_any(&packed, Some(base)).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
}

fn zstd_compress(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("zstd")
        .args(["-q", "-c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("zstd");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("zstd");
    writer.join().unwrap().unwrap();
    out.stdout
}
