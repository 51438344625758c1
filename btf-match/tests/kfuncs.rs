//! `btf-match kfuncs` on the Debian 6.1 vmlinux: every set8 with every
//! entry's id and flags as `.BTF_ids` holds them, read independently with
//! binutils (`nm` for the symbols, `objcopy` for the section's bytes), and
//! every dtor pair with its check.

use std::collections::BTreeMap;
use std::process::Command;

use btf_match::btf_ids::BtfIds;

#[test]
fn set8s_and_flags_as_btf_ids_holds_them() {
    let Some(vmlinux) = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61) else {
        return;
    };
    if !btfkit_tests::oracle_program("nm") || !btfkit_tests::oracle_program("objcopy") {
        return;
    }
    let data = std::fs::read(&vmlinux).expect("read vmlinux");
    let ids = BtfIds::read(&data).expect(".BTF_ids");

    // The oracle: nm's addresses of the section's symbols, objcopy's bytes.
    let nm = btfkit_tests::run(Command::new("nm").arg(&vmlinux));
    let nm = String::from_utf8_lossy(&nm);
    let mut start = None;
    let mut sets = BTreeMap::new();
    for l in nm.lines() {
        let mut it = l.split_whitespace();
        let (Some(addr), Some(_), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let addr = u64::from_str_radix(addr, 16).expect("nm address");
        if name == "__BTF_ids_seg_start" || name == "__start_BTF_ids" {
            start = Some(addr);
        }
        if let Some(set) = name.strip_prefix("__BTF_ID__set8__") {
            sets.insert(set.to_string(), addr);
        }
    }
    let dir = std::env::temp_dir().join(format!("btf-match-kfuncs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bin = dir.join("btf_ids.bin");
    btfkit_tests::run(
        Command::new("objcopy")
            .args(["-O", "binary", "--only-section=.BTF_ids"])
            .arg(&vmlinux)
            .arg(&bin),
    );
    let bytes = std::fs::read(&bin).expect("section bytes");
    let _ = std::fs::remove_dir_all(&dir);
    // The section's address: readelf's header line.
    let re = btfkit_tests::run(Command::new("readelf").args(["-S", "-W"]).arg(&vmlinux));
    let re = String::from_utf8_lossy(&re);
    let line = re
        .lines()
        .find(|l| l.contains(" .BTF_ids "))
        .expect(".BTF_ids in readelf -S");
    let after = line.split(".BTF_ids").nth(1).expect("fields");
    let addr =
        u64::from_str_radix(after.split_whitespace().nth(1).expect("addr"), 16).expect("hex");
    let _ = start;
    let w = |o: u64| u32::from_le_bytes(bytes[o as usize..o as usize + 4].try_into().expect("4"));
    assert_eq!(ids.sets.len(), sets.len(), "set8 count");
    let mut entries = 0;
    for set in &ids.sets {
        let off = sets[&set.name] - addr;
        assert_eq!(set.offset, off, "set8 {}", set.name);
        assert_eq!(set.entries.len() as u32, w(off), "set8 {} count", set.name);
        assert_eq!(set.flags, w(off + 4), "set8 {} flags", set.name);
        for (i, e) in set.entries.iter().enumerate() {
            let o = off + 8 + 8 * i as u64;
            assert_eq!(
                (e.id, e.flags),
                (w(o), w(o + 4)),
                "set8 {} entry {i}",
                set.name
            );
            entries += 1;
        }
    }
    assert!(
        ids.sets.len() >= 6 && entries >= 40,
        "{} sets, {entries} entries",
        ids.sets.len()
    );
    // The dtor pairs, each of the right shape.
    let btf = btf::parse_any(&data, None).expect("BTF");
    let pairs: Vec<(&str, &str)> = ids
        .dtors
        .iter()
        .map(|p| (p.struct_name.as_str(), p.func_name.as_str()))
        .collect();
    assert_eq!(pairs, btf_match::dtor::PAIRS_6_1);
    for p in &ids.dtors {
        assert_eq!(btf.name_of(btf::TypeId(p.struct_id)), p.struct_name);
        btf_match::check_dtor_shape(&btf, btf::TypeId(p.struct_id), btf::TypeId(p.func_id))
            .expect("dtor shape");
    }
    // The command prints the same and exits 0.
    let out = Command::new(env!("CARGO_BIN_EXE_btf-match"))
        .arg("kfuncs")
        .arg(&vmlinux)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dtor bpf_prog_test_dtor_kfunc_ids: struct prog_test_ref_kfunc"),
        "{text}"
    );
    assert!(text.contains("KF_ACQUIRE|KF_RET_NULL"), "{text}");
}
