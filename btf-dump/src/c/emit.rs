//! The emission pass: prints the definitions the ordering queued, with the
//! forward declarations they need, and the definitions themselves (struct
//! and union bodies with their padding, enums, typedefs, forwards).
//!
//! Invariants (those of libbpf's `btf_dump_emit_type`):
//! - a type is printed at most once: `EMITTED` types return at once;
//! - a struct/union/typedef is `EMITTING` while the types it needs are
//!   emitted; meeting it again then prints a forward declaration (for a
//!   typedef: its definition) once, marked by `fwd_emitted`, unless it is the
//!   containing struct itself;
//! - only top-level calls (`cont_id == 0`) print struct/union/enum bodies; a
//!   named struct met inside another gets a forward declaration, an anonymous
//!   one is walked for what its inline body will need;
//! - recursion depth and total work are bounded (see [`super::DEPTH_BIG_STACK`]).

use btf::types::Composite;
use btf::{Type, TypeData};

use super::{err, Dumper, Name, EMITTED, EMITTING, MAX_CHAIN, NOT_EMITTED, R};

/// GCC's ARM SIMD base types, aliased to standard types when met as INTs.
const MISSING_BASE_TYPES: [(&[u8], &[u8]); 4] = [
    (b"__Poly8_t", b"unsigned char"),
    (b"__Poly16_t", b"unsigned short"),
    (b"__Poly64_t", b"unsigned long long"),
    (b"__Poly128_t", b"unsigned __int128"),
];

impl<'a, 'w> Dumper<'a, 'w> {
    /// Emits type `id` as needed inside container `cont_id` (0: top level).
    pub(super) fn emit_type(&mut self, id: u32, cont_id: u32, depth: u32) -> R {
        if depth > self.max_depth {
            return Err(err(id, "type graph nested too deep or looping"));
        }
        // Pointers, arrays and modifiers just pass on (libbpf's tail calls):
        // follow them in a bounded loop.
        let mut id = id;
        let mut steps = 0usize;
        let (t, state) = loop {
            self.tick(id)?;
            steps += 1;
            if steps > MAX_CHAIN {
                return Err(err(
                    id,
                    "chain of pointers/arrays/modifiers too long or looping",
                ));
            }
            let state = self.aux(id).emit;
            if state == EMITTED {
                return Ok(());
            }
            let Some(t) = self.ty(id) else {
                return Err(err(id, "no such type"));
            };
            match &t.data {
                TypeData::Ptr(to)
                | TypeData::Volatile(to)
                | TypeData::Const(to)
                | TypeData::Restrict(to)
                | TypeData::TypeTag(to)
                    if state != EMITTING =>
                {
                    id = to.0
                }
                TypeData::Array(a) if state != EMITTING => id = a.elem.0,
                _ => break (t, state),
            }
        };
        let named = !t.name_off.is_empty();
        let top = cont_id == 0;
        let d = depth + 1;

        if state == EMITTING {
            if self.aux(id).fwd_emitted {
                return Ok(());
            }
            match &t.data {
                TypeData::Struct(_) | TypeData::Union(_) => {
                    // A reference from inside the struct itself needs nothing;
                    // an anonymous loop cannot be broken (libbpf warns).
                    if id == cont_id || !named {
                        return Ok(());
                    }
                    self.struct_fwd(id, t);
                    self.put(b";\n\n");
                    self.aux(id).fwd_emitted = true;
                }
                TypeData::Typedef(_) => {
                    if !self.is_blacklisted(t) {
                        self.typedef_def(id, t, 0, d)?;
                        self.put(b";\n\n");
                    }
                    self.aux(id).fwd_emitted = true;
                }
                _ => {}
            }
            return Ok(());
        }

        match &t.data {
            TypeData::Int(_) => {
                self.missing_aliases(id);
                self.aux(id).emit = EMITTED;
            }
            TypeData::Enum(_) | TypeData::Enum64(_) => {
                if top {
                    self.enum_def(id, t, 0);
                    self.put(b";\n\n");
                }
                self.aux(id).emit = EMITTED;
            }
            // Followed above.
            TypeData::Ptr(_)
            | TypeData::Volatile(_)
            | TypeData::Const(_)
            | TypeData::Restrict(_)
            | TypeData::TypeTag(_)
            | TypeData::Array(_) => {}
            TypeData::Fwd => {
                self.fwd_def(id, t);
                self.put(b";\n\n");
                self.aux(id).emit = EMITTED;
            }
            TypeData::Typedef(to) => {
                self.aux(id).emit = EMITTING;
                self.emit_type(to.0, id, d)?;
                // Unless someone needed it as a forward declaration meanwhile.
                if !self.aux(id).fwd_emitted && !self.is_blacklisted(t) {
                    self.typedef_def(id, t, 0, d)?;
                    self.put(b";\n\n");
                }
                self.aux(id).emit = EMITTED;
            }
            TypeData::Struct(c) | TypeData::Union(c) => {
                self.aux(id).emit = EMITTING;
                if top || !named {
                    // The body will be printed: its member types must be ready.
                    let cont = if named { id } else { cont_id };
                    for m in &c.members {
                        self.emit_type(m.ty.0, cont, d)?;
                    }
                } else if !self.aux(id).fwd_emitted && id != cont_id {
                    self.struct_fwd(id, t);
                    self.put(b";\n\n");
                    self.aux(id).fwd_emitted = true;
                }
                if top {
                    self.struct_def(id, t, c, 0, d)?;
                    self.put(b";\n\n");
                    self.aux(id).emit = EMITTED;
                } else {
                    self.aux(id).emit = NOT_EMITTED;
                }
            }
            TypeData::FuncProto(p) => {
                self.emit_type(p.ret.0, cont_id, d)?;
                for prm in &p.params {
                    self.emit_type(prm.ty.0, cont_id, d)?;
                }
            }
            TypeData::Func(_) | TypeData::Var(_) | TypeData::Datasec(_) | TypeData::DeclTag(_) => {}
            TypeData::Float(_) => {}
        }
        Ok(())
    }

    /// `__builtin_va_list` is the compiler's: never redefined.
    fn is_blacklisted(&self, t: &Type) -> bool {
        !t.name_off.is_empty() && self.str(t.name_off) == b"__builtin_va_list"
    }

    /// For an INT named like one of GCC's ARM SIMD types, a typedef to the
    /// standard type. (libbpf resolves, and so counts, every INT's name here.)
    fn missing_aliases(&mut self, id: u32) {
        let name = self.type_name(id);
        if let Some((_, alias)) = MISSING_BASE_TYPES.iter().find(|(n, _)| name.is(n)) {
            self.put(b"typedef ");
            self.put(alias);
            self.put(b" ");
            self.put_name(name);
            self.put(b";\n\n");
        }
    }

    /// `struct name` / `union name`.
    pub(super) fn struct_fwd(&mut self, id: u32, t: &Type) {
        self.put(if t.kind() == btf::Kind::Struct {
            &b"struct"[..]
        } else {
            &b"union"[..]
        });
        if !t.name_off.is_empty() {
            self.put(b" ");
        }
        let n = self.type_name(id);
        self.put_name(n);
    }

    /// A struct/union with its body, at indentation `lvl`.
    pub(super) fn struct_def(
        &mut self,
        id: u32,
        t: &'a Type,
        c: &'a Composite,
        lvl: u32,
        depth: u32,
    ) -> R {
        let is_struct = t.kind() == btf::Kind::Struct;
        let align = self.align_of(id);
        let packed = is_struct && self.is_struct_packed(t, c);
        self.struct_fwd(id, t);
        self.put(b" {");

        let kflag = t.kind_flag;
        let mut off: i32 = 0;
        let mut prev_bitfield = false;
        for m in &c.members {
            let fname = Name::plain(self.str(m.name_off));
            let bit_sz = m.bitfield_size(kflag) as i32;
            let m_off = m.bit_offset(kflag) as i32;
            let m_align = if packed { 1 } else { self.align_of(m.ty.0) };
            let in_bitfield = prev_bitfield && bit_sz != 0;

            self.bit_padding(id, off, m_off, m_align, in_bitfield, lvl + 1)?;
            self.put(b"\n");
            self.pfx(lvl + 1);
            self.type_decl(m.ty.0, fname, lvl + 1, depth + 1)?;

            if bit_sz != 0 {
                self.put(b": ");
                self.put_i64(i64::from(bit_sz));
                off = m_off.wrapping_add(bit_sz);
                prev_bitfield = true;
            } else {
                // C's `int m_sz = max(0LL, size)`: keeps the low 32 bits.
                let sz = self.resolve_size(m.ty.0).max(0) as i32;
                off = m_off.wrapping_add(sz.wrapping_mul(8));
                prev_bitfield = false;
            }
            self.put(b";");
        }

        if is_struct {
            let end = c.size.wrapping_mul(8) as i32;
            self.bit_padding(id, off, end, align, false, lvl + 1)?;
        }

        // `struct empty {}` stays on one line.
        if !c.members.is_empty() || c.size != 0 {
            self.put(b"\n");
            self.pfx(lvl);
            self.put(b"}");
        } else {
            self.put(b"}");
        }
        if packed {
            self.put(b" __attribute__((packed))");
        }
        Ok(())
    }

    /// Fills the gap between bit offsets `cur` and `next` with unnamed
    /// bitfields (`long: 64;`, `int: 0;`, ...), exactly as libbpf chooses
    /// them: first the largest type whose natural alignment lands at or before
    /// `next`, with an explicit `type: 0` marker where the compiler would not
    /// align by itself, then whole units of that type, then the smallest type
    /// that holds the remainder. Arithmetic wraps at 32 bits like C's `int`.
    fn bit_padding(
        &mut self,
        id: u32,
        cur: i32,
        next: i32,
        next_align: i32,
        in_bitfield: bool,
        lvl: u32,
    ) -> R {
        if cur >= next {
            return Ok(());
        }
        let pads: [(&[u8], i32); 4] = [
            (b"long", (self.ptr_sz as i32).wrapping_mul(8)),
            (b"int", 32),
            (b"short", 16),
            (b"char", 8),
        ];
        let mut cur = cur;
        let (mut pad_type, mut pad_bits) = pads[3];
        let mut new_off = 0;
        for &(ty, bits) in &pads {
            pad_type = ty;
            pad_bits = bits;
            new_off = roundup(cur, bits).ok_or_else(|| err(id, "bad padding unit"))?;
            if new_off <= next {
                break;
            }
        }
        if new_off > cur && new_off <= next {
            let marker = in_bitfield
                || (new_off == next && {
                    let a = roundup(cur, next_align.wrapping_mul(8)).ok_or_else(|| {
                        err(
                            id,
                            "member type has no alignment (size 0 or not a data type)",
                        )
                    })?;
                    a != new_off
                })
                || (new_off != next && next.wrapping_sub(new_off) <= new_off.wrapping_sub(cur));
            if marker {
                self.put(b"\n");
                self.pfx(lvl);
                self.put(pad_type);
                self.put(b": ");
                self.put_i64(if in_bitfield {
                    i64::from(new_off.wrapping_sub(cur))
                } else {
                    0
                });
                self.put(b";");
            }
            cur = new_off;
        }
        while cur != next {
            let bits = next.wrapping_sub(cur).min(pad_bits);
            if bits == 0 {
                // A `long` of size 0: libbpf prints `long: 0;` forever.
                return Err(err(id, "padding with a zero-sized long never ends"));
            }
            if bits < 0 {
                // The gap wrapped past i32::MAX: libbpf's remainder loop
                // takes `char` for it (8 is not below a negative count) and
                // prints the wrapped count, which lands exactly on `next`.
                self.pad_line(lvl, b"char", bits);
                cur = next;
                continue;
            }
            if bits == pad_bits {
                self.pad_line(lvl, pad_type, pad_bits);
                cur = cur.wrapping_add(bits);
                self.maybe_flush()?;
                continue;
            }
            // The remainder: the smallest type that holds it.
            let mut found = false;
            for &(ty, b) in pads.iter().rev() {
                pad_type = ty;
                pad_bits = b;
                if b < bits {
                    continue;
                }
                self.pad_line(lvl, ty, bits);
                cur = cur.wrapping_add(bits);
                found = true;
                break;
            }
            if !found {
                return Err(err(id, "bad padding unit"));
            }
        }
        Ok(())
    }

    fn pad_line(&mut self, lvl: u32, ty: &[u8], bits: i32) {
        self.put(b"\n");
        self.pfx(lvl);
        self.put(ty);
        self.put(b": ");
        self.put_i64(i64::from(bits));
        self.put(b";");
    }

    /// `enum name`.
    pub(super) fn enum_fwd(&mut self, id: u32) {
        self.put(b"enum ");
        let n = self.type_name(id);
        self.put_name(n);
    }

    /// An enum with its enumerators, at indentation `lvl`.
    pub(super) fn enum_def(&mut self, id: u32, t: &'a Type, lvl: u32) {
        self.put(b"enum");
        if !t.name_off.is_empty() {
            self.put(b" ");
        }
        let n = self.type_name(id);
        self.put_name(n);
        let signed = t.kind_flag;
        match &t.data {
            TypeData::Enum(e) => {
                if e.values.is_empty() {
                    return;
                }
                self.put(b" {");
                for v in &e.values {
                    self.enumerator(v.name_off, lvl);
                    if signed {
                        self.put_i64(i64::from(v.val as i32));
                    } else {
                        self.put_u64(u64::from(v.val));
                    }
                    self.put(b",");
                }
            }
            TypeData::Enum64(e) => {
                if e.values.is_empty() {
                    return;
                }
                self.put(b" {");
                for v in &e.values {
                    self.enumerator(v.name_off, lvl);
                    if signed {
                        self.put_i64(v.val as i64);
                        self.put(b"LL,");
                    } else {
                        self.put_u64(v.val);
                        self.put(b"ULL,");
                    }
                }
            }
            _ => return,
        }
        self.put(b"\n");
        self.pfx(lvl);
        self.put(b"}");
    }

    /// `\n<tabs>name = ` for one enumerator, de-duplicated among idents.
    fn enumerator(&mut self, name_off: btf::StrOff, lvl: u32) {
        let name = self.str(name_off);
        let dup = self.name_dups(super::Space::Idents, name);
        self.put(b"\n");
        self.pfx(lvl + 1);
        if dup > 1 {
            super::put_dup_name(&mut self.buf, name, dup, false);
        } else {
            self.put(name);
        }
        self.put(b" = ");
    }

    /// A FWD: `struct name` or (kind_flag) `union name`.
    pub(super) fn fwd_def(&mut self, id: u32, t: &Type) {
        let n = self.type_name(id);
        self.put(if t.kind_flag {
            &b"union "[..]
        } else {
            &b"struct "[..]
        });
        self.put_name(n);
    }

    /// `typedef <declaration of name>`.
    pub(super) fn typedef_def(&mut self, id: u32, t: &Type, lvl: u32, depth: u32) -> R {
        let name = self.ident_name(id);
        let to = t.ref_type().map_or(0, |x| x.0);
        // Old GCC's typedef of __gnuc_va_list to void.
        if to == 0 && name.is(b"__gnuc_va_list") {
            self.put(b"typedef __builtin_va_list __gnuc_va_list");
            return Ok(());
        }
        self.put(b"typedef ");
        self.type_decl(to, name, lvl, depth + 1)
    }
}

/// C's `roundup(x, y)` on `int`, wrapping; `None` when `y` is 0 (where
/// libbpf divides by zero).
fn roundup(x: i32, y: i32) -> Option<i32> {
    if y == 0 {
        return None;
    }
    Some(
        x.wrapping_add(y.wrapping_sub(1))
            .wrapping_div(y)
            .wrapping_mul(y),
    )
}
