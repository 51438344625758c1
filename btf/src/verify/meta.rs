//! The first pass: the header, the string section, and each type record on
//! its own (the kernel's `btf_parse_hdr`, `btf_check_sec_info`,
//! `btf_parse_str_sec`, `btf_parse_type_sec` up to `btf_check_all_metas`, and
//! every kind's `check_meta`).

use super::env::*;
use super::msg as m;

impl Env<'_> {
    /// `btf_parse_hdr`: copies the header (at most 24 bytes of it, the rest 0),
    /// wants the unknown header tail zero, logs the header, checks magic,
    /// version, flags, that some data follows (base BTF), then the sections.
    pub fn parse_hdr(&mut self) -> Res {
        let size = self.data.len();
        if size < 8 {
            self.log_plain(format_args!("{}", m::HDR_LEN_NOT_FOUND));
            return Err(EINVAL);
        }
        let hdr_len = self.w(4);
        if (size as u64) < u64::from(hdr_len) {
            self.log_plain(format_args!("{}", m::BTF_HEADER_NOT_FOUND));
            return Err(EINVAL);
        }
        if hdr_len > 24 && self.data[24..hdr_len as usize].iter().any(|&b| b != 0) {
            self.log_plain(format_args!("{}", m::UNSUPPORTED_BTF_HEADER));
            return Err(E2BIG);
        }
        let mut raw = [0u8; 24];
        let copy = (hdr_len as usize).min(24);
        raw[..copy].copy_from_slice(&self.data[..copy]);
        // The kernel reads its own byte order only.
        (self.magic, self.hdr) = Hdr::read_unchecked(&raw, crate::Endian::native());
        let (h, magic) = (self.hdr, self.magic);
        if !self.log.kernel_mode {
            self.log_plain(format_args!(
                "magic: 0x{:x}\nversion: {}\nflags: 0x{:x}\nhdr_len: {}\ntype_off: {}\ntype_len: {}\nstr_off: {}\nstr_len: {}\nbtf_total_size: {}\n",
                magic, h.version, h.flags, h.hdr_len, h.type_off, h.type_len, h.str_off, h.str_len, size
            ));
        }
        if magic != crate::format::MAGIC {
            self.log_plain(format_args!("{}", m::INVALID_MAGIC));
            return Err(EINVAL);
        }
        if h.version != crate::format::VERSION {
            self.log_plain(format_args!("{}", m::UNSUPPORTED_VERSION));
            return Err(ENOTSUPP);
        }
        if h.flags != 0 {
            self.log_plain(format_args!("{}", m::UNSUPPORTED_FLAGS));
            return Err(ENOTSUPP);
        }
        if self.base.is_none() && size as u64 == u64::from(h.hdr_len) {
            self.log_plain(format_args!("{}", m::NO_DATA));
            return Err(EINVAL);
        }
        self.check_sec_info(size as u32)
    }

    /// `btf_check_sec_info`: the type and string sections, in offset order
    /// (ordered as the kernel's two-element heapsort with its wrapping
    /// comparator orders them), must tile the data after the header exactly.
    fn check_sec_info(&mut self, size: u32) -> Res {
        let h = self.hdr;
        let cmp = |x: (u32, u32), y: (u32, u32)| -> i32 {
            let d = x.0.wrapping_sub(y.0) as i32;
            if d != 0 {
                d
            } else {
                x.1.wrapping_sub(y.1) as i32
            }
        };
        let a = (h.type_off, h.type_len);
        let b = (h.str_off, h.str_len);
        let secs = if cmp(a, b) < 0 { [a, b] } else { [b, a] };
        let mut total: u32 = 0;
        let expected = size.wrapping_sub(h.hdr_len);
        for (off, len) in secs {
            if expected < off {
                self.log_plain(format_args!("{}", m::INVALID_SECTION_OFFSET));
                return Err(EINVAL);
            }
            if total < off {
                self.log_plain(format_args!("{}", m::UNSUPPORTED_SECTION_FOUND));
                return Err(EINVAL);
            }
            if total > off {
                self.log_plain(format_args!("{}", m::SECTION_OVERLAP_FOUND));
                return Err(EINVAL);
            }
            if expected - total < len {
                self.log_plain(format_args!("{}", m::TOTAL_SECTION_LENGTH_TOO_LONG));
                return Err(EINVAL);
            }
            total += len;
        }
        if expected != total {
            self.log_plain(format_args!("{}", m::UNSUPPORTED_SECTION_FOUND));
            return Err(EINVAL);
        }
        Ok(())
    }

    /// `btf_parse_str_sec`: the strings end the blob; non-empty (may be
    /// empty for split BTF), at most 16 MiB, NUL-terminated, and for base BTF
    /// starting with the empty string.
    pub fn parse_str_sec(&mut self) -> Res {
        let h = self.hdr;
        let start = u64::from(h.hdr_len) + u64::from(h.str_off);
        let end = start + u64::from(h.str_len);
        if end != self.data.len() as u64 {
            self.log_plain(format_args!("{}", m::STRING_SECTION_NOT_AT_END));
            return Err(EINVAL);
        }
        self.str_start = start as usize;
        if self.base.is_some() && h.str_len == 0 {
            return Ok(());
        }
        let last = self.data.get(end.saturating_sub(1) as usize).copied();
        if h.str_len == 0 || h.str_len - 1 > BTF_MAX_NAME_OFFSET || last != Some(0) {
            self.log_plain(format_args!("{}", m::INVALID_STRING_SECTION));
            return Err(EINVAL);
        }
        if self.base.is_none() && self.data.get(start as usize) != Some(&0) {
            self.log_plain(format_args!("{}", m::INVALID_STRING_SECTION));
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The start of `btf_parse_type_sec`: alignment and non-emptiness.
    pub fn type_sec_prologue(&mut self) -> Res {
        if self.hdr.type_off & 3 != 0 {
            self.log_plain(format_args!("{}", m::UNALIGNED_TYPE_OFF));
            return Err(EINVAL);
        }
        if self.base.is_none() && self.hdr.type_len == 0 {
            self.log_plain(format_args!("{}", m::NO_TYPE_FOUND));
            return Err(EINVAL);
        }
        Ok(())
    }

    /// `btf_add_type`: appends a record, growing the (emulated) array as the
    /// kernel does, and logging (but not failing, as the kernel ignores the
    /// error) when the id space is exhausted.
    fn add_type(&mut self, r: Rec) {
        if self.types_size == self.recs.len() as u32 {
            if self.start_id.wrapping_add(self.types_size) == BTF_MAX_TYPE {
                self.log_plain(format_args!("{}", m::EXCEEDED_MAX_NUM_OF_TYPES));
                return;
            }
            let expand = (self.types_size >> 2).max(16);
            let new_size = BTF_MAX_TYPE.min(self.types_size.saturating_add(expand));
            if self.recs.is_empty() && self.base.is_none() {
                self.recs.push(Rec::VOID);
            }
            self.types_size = new_size;
        }
        self.recs.push(r);
    }

    /// `btf_check_all_metas`: walks the type section record by record.
    pub fn check_all_metas(&mut self) -> Res {
        let begin = self.hdr.hdr_len as usize + self.hdr.type_off as usize;
        let end = begin + self.hdr.type_len as usize;
        // Bound the allocation by the input: a record is at least 12 bytes.
        self.recs.reserve(self.hdr.type_len as usize / 16 + 1);
        self.log_type_id = if self.base.is_some() {
            self.start_id
        } else {
            1
        };
        let mut cur = begin;
        while cur < end {
            let n = self.check_meta(cur, (end - cur) as u32)?;
            self.add_type(self.rec_at(cur));
            cur += n as usize;
            self.log_type_id = self.log_type_id.wrapping_add(1);
        }
        Ok(())
    }

    /// `btf_check_meta`: the common header checks, then the kind's own;
    /// returns the record length.
    fn check_meta(&mut self, off: usize, left: u32) -> Res<u32> {
        let id = self.log_type_id;
        if left < 12 {
            self.log_plain(format_args!(
                "[{id}] {}{left}{}12",
                m::META_LEFT,
                m::META_NEEDED
            ));
            return Err(EINVAL);
        }
        let t = self.rec_at(off);
        let left = left - 12;
        if t.info & !0x9f00_ffff != 0 {
            self.log_plain(format_args!("[{id}] {}{:x}", m::INVALID_BTF_INFO, t.info));
            return Err(EINVAL);
        }
        let k = t.kind();
        if k > K_MAX || k == K_UNKN {
            self.log_plain(format_args!("[{id}] {}{k}", m::INVALID_KIND));
            return Err(EINVAL);
        }
        if !self.name_offset_valid(t.name_off) {
            self.log_plain(format_args!(
                "[{id}] {}{}",
                m::INVALID_NAME_OFFSET,
                t.name_off
            ));
            return Err(EINVAL);
        }
        let extra = match k {
            K_INT => self.int_meta(&t, left)?,
            K_PTR | K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG => {
                self.ref_meta(&t)?
            }
            K_ARRAY => self.array_meta(&t, left)?,
            K_STRUCT | K_UNION => self.struct_meta(&t, left)?,
            K_ENUM => self.enum_meta(&t, left, false)?,
            K_ENUM64 => self.enum_meta(&t, left, true)?,
            K_FWD => self.fwd_meta(&t)?,
            K_FUNC => self.func_meta(&t)?,
            K_FUNC_PROTO => self.proto_meta(&t, left)?,
            K_VAR => self.var_meta(&t, left)?,
            K_DATASEC => self.datasec_meta(&t, left)?,
            K_FLOAT => self.float_meta(&t)?,
            _ => self.decl_tag_meta(&t, left)?,
        };
        Ok(12 + extra)
    }

    fn meta_short(&mut self, t: &Rec, left: u32, needed: u32) -> Res {
        if left < needed {
            self.log_basic(
                t,
                format_args!("{}{left}{}{needed}", m::META_LEFT, m::META_NEEDED),
            );
            return Err(EINVAL);
        }
        Ok(())
    }

    fn no_vlen(&mut self, t: &Rec) -> Res {
        if t.vlen() != 0 {
            self.log_type(t, format_args!("{}", m::VLEN_NOT_ZERO));
            return Err(EINVAL);
        }
        Ok(())
    }

    fn no_kflag(&mut self, t: &Rec) -> Res {
        if t.kflag() {
            self.log_type(t, format_args!("{}", m::INVALID_KIND_FLAG));
            return Err(EINVAL);
        }
        Ok(())
    }

    fn bad(&mut self, t: &Rec, msg: &str) -> Res<u32> {
        self.log_type(t, format_args!("{msg}"));
        Err(EINVAL)
    }

    /// `btf_int_check_meta`: no vlen/kflag, no reserved bits, at most 128
    /// bits that fit the size, at most one encoding bit.
    fn int_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        self.meta_short(t, left, t.trailing_bytes())?;
        self.no_vlen(t)?;
        self.no_kflag(t)?;
        let d = self.w(t.extra());
        if d & !0x0fff_ffff != 0 {
            self.log_basic(t, format_args!("{}{:x}", m::INVALID_INT_DATA, d));
            return Err(EINVAL);
        }
        let bits = (d & 0xff) + ((d >> 16) & 0xff);
        if bits > 128 {
            self.log_type(t, format_args!("{}128", m::NR_BITS_EXCEEDS));
            return Err(EINVAL);
        }
        if bits.div_ceil(8) > t.st {
            return self.bad(t, m::NR_BITS_EXCEEDS_TYPE_SIZE);
        }
        let enc = (d >> 24) & 0x0f;
        if enc != 0 && enc != 1 && enc != 2 && enc != 4 {
            self.log_type(t, format_args!("{}", m::UNSUPPORTED_ENCODING));
            return Err(ENOTSUPP);
        }
        self.log_type_x(t, true, None);
        Ok(4)
    }

    /// `btf_ref_type_check_meta` (PTR, TYPEDEF, VOLATILE, CONST, RESTRICT,
    /// TYPE_TAG): no vlen, no kflag (TYPE_TAG may carry one on newer
    /// kernels), a type id in range, a name only for TYPEDEF (an identifier)
    /// and TYPE_TAG (any non-empty value).
    fn ref_meta(&mut self, t: &Rec) -> Res<u32> {
        self.no_vlen(t)?;
        if t.kflag() && !(t.kind() == K_TYPE_TAG && self.rules.tag_kflag_allowed()) {
            return self.bad(t, m::INVALID_KIND_FLAG);
        }
        if t.st > BTF_MAX_TYPE {
            return self.bad(t, m::INVALID_TYPE_ID);
        }
        match t.kind() {
            K_TYPEDEF => {
                if t.name_off == 0 || !self.name_valid_identifier(t.name_off) {
                    return self.bad(t, m::INVALID_NAME);
                }
            }
            K_TYPE_TAG => {
                if self.str_at(t.name_off).is_none_or(|s| s.is_empty()) {
                    return self.bad(t, m::INVALID_NAME);
                }
            }
            _ => {
                if t.name_off != 0 {
                    return self.bad(t, m::INVALID_NAME);
                }
            }
        }
        self.log_type_x(t, true, None);
        Ok(0)
    }

    /// `btf_fwd_check_meta`: no vlen, type word 0, an identifier name.
    fn fwd_meta(&mut self, t: &Rec) -> Res<u32> {
        self.no_vlen(t)?;
        if t.st != 0 {
            return self.bad(t, m::TYPE_NOT_ZERO);
        }
        if t.name_off == 0 || !self.name_valid_identifier(t.name_off) {
            return self.bad(t, m::INVALID_NAME);
        }
        self.log_type_x(t, true, None);
        Ok(0)
    }

    /// `btf_array_check_meta`: anonymous, no vlen/kflag/size, element and
    /// index ids non-zero and in range.
    fn array_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        self.meta_short(t, left, t.trailing_bytes())?;
        if t.name_off != 0 {
            return self.bad(t, m::INVALID_NAME);
        }
        self.no_vlen(t)?;
        self.no_kflag(t)?;
        if t.st != 0 {
            return self.bad(t, m::SIZE_NOT_ZERO);
        }
        let elem = self.w(t.extra());
        let index = self.w(t.extra() + 4);
        if elem == 0 || elem > BTF_MAX_TYPE {
            return self.bad(t, m::INVALID_ELEM);
        }
        if index == 0 || index > BTF_MAX_TYPE {
            return self.bad(t, m::INVALID_INDEX);
        }
        self.log_type_x(t, true, None);
        Ok(12)
    }

    /// `btf_struct_check_meta`: an optional identifier name; members with
    /// valid optional identifier names, non-void in-range types, offsets
    /// non-decreasing (all 0 in a union) and starting inside the struct.
    fn struct_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        let needed = t.trailing_bytes();
        self.meta_short(t, left, needed)?;
        if t.name_off != 0 && !self.name_valid_identifier(t.name_off) {
            return self.bad(t, m::INVALID_NAME);
        }
        self.log_type_x(t, true, None);
        let is_union = t.kind() == K_UNION;
        let mut last = 0u32;
        for i in 0..t.vlen() {
            let mb = self.member(t, i);
            if !self.name_offset_valid(mb.name_off) {
                self.log_member(
                    t,
                    &mb,
                    Some(format_args!(
                        "{}{}",
                        m::INVALID_MEMBER_NAME_OFFSET,
                        mb.name_off
                    )),
                );
                return Err(EINVAL);
            }
            if mb.name_off != 0 && !self.name_valid_identifier(mb.name_off) {
                self.log_member(t, &mb, Some(format_args!("{}", m::INVALID_NAME)));
                return Err(EINVAL);
            }
            if mb.ty == 0 || mb.ty > BTF_MAX_TYPE {
                self.log_member(t, &mb, Some(format_args!("{}", m::INVALID_TYPE_ID)));
                return Err(EINVAL);
            }
            let off = if t.kflag() {
                mb.offset & 0x00ff_ffff
            } else {
                mb.offset
            };
            if (is_union && off != 0) || last > off {
                self.log_member(
                    t,
                    &mb,
                    Some(format_args!("{}", m::INVALID_MEMBER_BITS_OFFSET)),
                );
                return Err(EINVAL);
            }
            if off.div_ceil(8) > t.st {
                self.log_member(
                    t,
                    &mb,
                    Some(format_args!("{}", m::MEMBER_BITS_OFFSET_EXCEEDS)),
                );
                return Err(EINVAL);
            }
            self.log_member(t, &mb, None);
            last = off;
        }
        Ok(needed)
    }

    /// `btf_enum_check_meta` / `btf_enum64_check_meta`: size a power of two
    /// up to 8, an optional identifier name, enumerators with identifier names.
    fn enum_meta(&mut self, t: &Rec, left: u32, is64: bool) -> Res<u32> {
        let rec = if is64 { 12 } else { 8 };
        let needed = t.trailing_bytes();
        self.meta_short(t, left, needed)?;
        if t.st > 8 || !t.st.is_power_of_two() {
            return self.bad(t, m::UNEXPECTED_SIZE);
        }
        if t.name_off != 0 && !self.name_valid_identifier(t.name_off) {
            return self.bad(t, m::INVALID_NAME);
        }
        self.log_type_x(t, true, None);
        for i in 0..t.vlen() {
            let o = t.extra() + (rec * i) as usize;
            let name = self.w(o);
            if !self.name_offset_valid(name) {
                self.log_plain(format_args!("{}{}", m::INVALID_NAME_OFFSET_ENUM, name));
                return Err(EINVAL);
            }
            if name == 0 || !self.name_valid_identifier(name) {
                return self.bad(t, m::INVALID_NAME);
            }
            if self.log.on && !self.log.kernel_mode {
                let nm = self.log_name(name);
                let lo = self.w(o + 4);
                let val = if is64 {
                    let v = u64::from(lo) | (u64::from(self.w(o + 8)) << 32);
                    if t.kflag() {
                        format!(" val={}\n", v as i64)
                    } else {
                        format!(" val={v}\n")
                    }
                } else if t.kflag() {
                    format!(" val={}\n", lo as i32)
                } else {
                    format!(" val={lo}\n")
                };
                self.log.bytes(&[b"\t", nm, val.as_bytes()]);
            }
        }
        Ok(needed)
    }

    /// `btf_func_proto_check_meta`: anonymous, no kflag (the parameters are
    /// checked in the second pass).
    fn proto_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        let needed = t.trailing_bytes();
        self.meta_short(t, left, needed)?;
        if t.name_off != 0 {
            return self.bad(t, m::INVALID_NAME);
        }
        self.no_kflag(t)?;
        self.log_type_x(t, true, None);
        Ok(needed)
    }

    /// `btf_func_check_meta`: an identifier name, linkage static or global
    /// (vlen), no kflag.
    fn func_meta(&mut self, t: &Rec) -> Res<u32> {
        if t.name_off == 0 || !self.name_valid_identifier(t.name_off) {
            return self.bad(t, m::INVALID_NAME);
        }
        if t.vlen() > 1 {
            return self.bad(t, m::INVALID_FUNC_LINKAGE);
        }
        self.no_kflag(t)?;
        self.log_type_x(t, true, None);
        Ok(0)
    }

    /// `btf_var_check_meta`: no vlen/kflag, an identifier name, a non-void
    /// in-range type, linkage static or global-allocated.
    fn var_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        self.meta_short(t, left, t.trailing_bytes())?;
        self.no_vlen(t)?;
        self.no_kflag(t)?;
        if t.name_off == 0 || !self.name_valid_identifier(t.name_off) {
            return self.bad(t, m::INVALID_NAME);
        }
        if t.st == 0 || t.st > BTF_MAX_TYPE {
            return self.bad(t, m::INVALID_TYPE_ID);
        }
        let linkage = self.w(t.extra());
        if linkage > 1 {
            return self.bad(t, m::LINKAGE_NOT_SUPPORTED);
        }
        self.log_type_x(t, true, None);
        Ok(4)
    }

    /// `btf_datasec_check_meta`: non-zero size, no kflag, a printable name
    /// (an identifier before 6.5);
    /// entries with non-void types, increasing non-overlapping offsets inside
    /// the section, non-zero sizes, and sizes summing to at most the size.
    fn datasec_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        let needed = t.trailing_bytes();
        self.meta_short(t, left, needed)?;
        if t.st == 0 {
            return self.bad(t, m::SIZE_IS_ZERO);
        }
        self.no_kflag(t)?;
        let name_ok = if self.rules.printable_section_names() {
            self.name_valid_section(t.name_off)
        } else {
            self.name_valid_identifier(t.name_off)
        };
        if t.name_off == 0 || !name_ok {
            return self.bad(t, m::INVALID_NAME);
        }
        self.log_type_x(t, true, None);
        let mut last_end: u64 = 0;
        let mut sum: u64 = 0;
        for i in 0..t.vlen() {
            let v = self.vsi(t, i);
            let msg = if v.ty == 0 || v.ty > BTF_MAX_TYPE {
                Some(m::INVALID_TYPE_ID)
            } else if u64::from(v.offset) < last_end || v.offset >= t.st {
                Some(m::INVALID_OFFSET)
            } else if v.size == 0 || v.size > t.st {
                Some(m::INVALID_SIZE)
            } else {
                // The kernel adds in 32 bits and widens the sum.
                last_end = u64::from(v.offset.wrapping_add(v.size));
                if last_end > u64::from(t.st) {
                    Some(m::INVALID_OFFSET_PLUS_SIZE)
                } else {
                    None
                }
            };
            if let Some(msg) = msg {
                self.log_vsi(t, &v, Some(format_args!("{msg}")));
                return Err(EINVAL);
            }
            self.log_vsi(t, &v, None);
            sum += u64::from(v.size);
        }
        if u64::from(t.st) < sum {
            return self.bad(t, m::INVALID_BTF_INFO_SIZE);
        }
        Ok(needed)
    }

    /// `btf_float_check_meta`: no vlen/kflag, size 2, 4, 8, 12 or 16.
    fn float_meta(&mut self, t: &Rec) -> Res<u32> {
        self.no_vlen(t)?;
        self.no_kflag(t)?;
        if !matches!(t.st, 2 | 4 | 8 | 12 | 16) {
            return self.bad(t, m::INVALID_TYPE_SIZE);
        }
        self.log_type_x(t, true, None);
        Ok(0)
    }

    /// `btf_decl_tag_check_meta`: a non-empty value, no vlen, no kflag (newer
    /// kernels allow it), component index at least -1.
    fn decl_tag_meta(&mut self, t: &Rec, left: u32) -> Res<u32> {
        self.meta_short(t, left, t.trailing_bytes())?;
        if self.str_at(t.name_off).is_none_or(|s| s.is_empty()) {
            return self.bad(t, m::INVALID_VALUE);
        }
        self.no_vlen(t)?;
        if !self.rules.tag_kflag_allowed() {
            self.no_kflag(t)?;
        }
        let idx = self.w(t.extra()) as i32;
        if idx < -1 {
            return self.bad(t, m::INVALID_COMPONENT_IDX);
        }
        self.log_type_x(t, true, None);
        Ok(4)
    }
}
