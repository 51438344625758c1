//! C declarators: turns a chain of BTF types ending in a named or base type
//! (`ptr -> const -> array -> func_proto -> ...`) into C syntax around a
//! field, parameter or typedef name.
//!
//! Invariants (those of libbpf's `btf_dump_emit_type_decl`/`_chain`):
//! - the chain is pushed on a shared stack from the outermost type down to
//!   the first terminal type (int, float, enum, struct, union, fwd, typedef,
//!   void, or a kind that cannot appear in a declaration), then printed by
//!   popping: the terminal first, then what wraps it;
//! - each chain works on its own frame of the stack, `[start, start + cnt)`;
//!   nested chains (prototype parameters) push above it and truncate back;
//! - const/volatile/restrict right above a terminal are printed before it,
//!   elsewhere after the `*` they qualify; modifiers on arrays and prototypes
//!   are dropped;
//! - a chain longer than [`super::MAX_CHAIN`] is a loop: an error.

use btf::TypeData;

use super::{err, Dumper, Name, MAX_CHAIN, R};

impl<'a, 'w> Dumper<'a, 'w> {
    /// Prints the declaration of `fname` with type `id`.
    pub(super) fn type_decl(&mut self, id: u32, fname: Name<'a>, lvl: u32, depth: u32) -> R {
        self.tick(id)?;
        if depth > self.max_depth {
            return Err(err(id, "declaration nested too deep or looping"));
        }
        let start = self.decl.len();
        let mut id = id;
        loop {
            if self.decl.len() - start >= MAX_CHAIN {
                self.decl.truncate(start);
                return Err(err(id, "declaration chain too long or looping"));
            }
            self.decl.push(id);
            let Some(t) = self.ty(id) else { break };
            match &t.data {
                TypeData::Ptr(to)
                | TypeData::Volatile(to)
                | TypeData::Const(to)
                | TypeData::Restrict(to)
                | TypeData::TypeTag(to) => id = to.0,
                TypeData::FuncProto(p) => id = p.ret.0,
                TypeData::Array(a) => id = a.elem.0,
                // Terminals, and kinds libbpf warns about and stops at.
                _ => break,
            }
        }
        let mut cnt = self.decl.len() - start;
        let r = self.type_chain(start, &mut cnt, fname, lvl, depth + 1);
        self.decl.truncate(start);
        r
    }

    /// Prints const/volatile/restrict on top of the frame, popping them.
    fn emit_mods(&mut self, start: usize, cnt: &mut usize) {
        while *cnt > 0 {
            let id = self.decl[start + *cnt - 1];
            let s: &[u8] = match self.ty(id).map(|t| &t.data) {
                Some(TypeData::Volatile(_)) => b"volatile ",
                Some(TypeData::Const(_)) => b"const ",
                Some(TypeData::Restrict(_)) => b"restrict ",
                _ => return,
            };
            self.put(s);
            *cnt -= 1;
        }
    }

    /// Pops the modifiers (type tags included) on top of the frame.
    fn drop_mods(&mut self, start: usize, cnt: &mut usize) {
        while *cnt > 0 {
            let id = self.decl[start + *cnt - 1];
            match self.ty(id) {
                Some(t) if t.kind().is_modifier() => *cnt -= 1,
                _ => return,
            }
        }
    }

    /// The declared name, after a space unless it follows a `*`.
    fn emit_name(&mut self, fname: Name<'_>, last_was_ptr: bool) {
        if !fname.is_empty() && !last_was_ptr {
            self.put(b" ");
        }
        self.put_name(fname);
    }

    /// Prints the frame `[start, start + *cnt)` popping from the top.
    fn type_chain(
        &mut self,
        start: usize,
        cnt: &mut usize,
        fname: Name<'a>,
        lvl: u32,
        depth: u32,
    ) -> R {
        if depth > self.max_depth {
            return Err(err(0, "declaration nested too deep or looping"));
        }
        // `true` at first so that a lone pointer prints as `(*name)`.
        let mut last_was_ptr = true;
        while *cnt > 0 {
            *cnt -= 1;
            let id = self.decl[start + *cnt];
            let Some(t) = self.ty(id) else {
                // void
                self.emit_mods(start, cnt);
                self.put(b"void");
                last_was_ptr = false;
                continue;
            };
            let named = !t.name_off.is_empty();
            match &t.data {
                TypeData::Int(_) | TypeData::Float(_) => {
                    self.emit_mods(start, cnt);
                    let n = self.str(t.name_off);
                    self.put(n);
                }
                TypeData::Struct(c) | TypeData::Union(c) => {
                    self.emit_mods(start, cnt);
                    if named {
                        self.struct_fwd(id, t);
                    } else {
                        // Anonymous: the body goes inline.
                        self.struct_def(id, t, c, lvl, depth + 1)?;
                    }
                }
                TypeData::Enum(_) | TypeData::Enum64(_) => {
                    self.emit_mods(start, cnt);
                    if named {
                        self.enum_fwd(id);
                    } else {
                        self.enum_def(id, t, lvl);
                    }
                }
                TypeData::Fwd => {
                    self.emit_mods(start, cnt);
                    self.fwd_def(id, t);
                }
                TypeData::Typedef(_) => {
                    self.emit_mods(start, cnt);
                    let n = self.ident_name(id);
                    self.put_name(n);
                }
                TypeData::Ptr(_) => self.put(if last_was_ptr { b"*" } else { b" *" }),
                TypeData::Volatile(_) => self.put(b" volatile"),
                TypeData::Const(_) => self.put(b" const"),
                TypeData::Restrict(_) => self.put(b" restrict"),
                TypeData::TypeTag(_) => {
                    self.emit_mods(start, cnt);
                    let n = self.str(t.name_off);
                    self.put(b" __attribute__((btf_type_tag(\"");
                    self.put(n);
                    self.put(b"\")))");
                }
                TypeData::Array(a) => {
                    // Qualifiers on an array (a GCC quirk) are dropped.
                    self.drop_mods(start, cnt);
                    if *cnt == 0 {
                        self.emit_name(fname, last_was_ptr);
                        self.array_dim(a.nelems);
                        return Ok(());
                    }
                    let next = self.decl[start + *cnt - 1];
                    let multidim =
                        matches!(self.ty(next).map(|t| &t.data), Some(TypeData::Array(_)));
                    if !fname.is_empty() && !last_was_ptr {
                        self.put(b" ");
                    }
                    if !multidim {
                        self.put(b"(");
                    }
                    self.type_chain(start, cnt, fname, lvl, depth + 1)?;
                    if !multidim {
                        self.put(b")");
                    }
                    self.array_dim(a.nelems);
                    return Ok(());
                }
                TypeData::FuncProto(p) => {
                    // Qualifiers on a prototype (GCC's noreturn quirk) are dropped.
                    self.drop_mods(start, cnt);
                    if *cnt > 0 {
                        self.put(b" (");
                        self.type_chain(start, cnt, fname, lvl, depth + 1)?;
                        self.put(b")");
                    } else {
                        self.emit_name(fname, last_was_ptr);
                    }
                    self.put(b"(");
                    let params = &p.params;
                    // No parameters, or clang's single `void` one: `(void)`.
                    if params.is_empty() || (params.len() == 1 && params[0].ty.is_void()) {
                        self.put(b"void)");
                        return Ok(());
                    }
                    let last = params.len() - 1;
                    for (i, prm) in params.iter().enumerate() {
                        if i > 0 {
                            self.put(b", ");
                        }
                        // A last parameter of type void is `...`.
                        if i == last && prm.ty.is_void() {
                            self.put(b"...");
                            break;
                        }
                        let n = Name::plain(self.str(prm.name_off));
                        self.type_decl(prm.ty.0, n, lvl, depth + 1)?;
                    }
                    self.put(b")");
                    return Ok(());
                }
                // FUNC, VAR, DATASEC, DECL_TAG: libbpf warns and stops here.
                TypeData::Func(_)
                | TypeData::Var(_)
                | TypeData::Datasec(_)
                | TypeData::DeclTag(_) => {
                    return Ok(());
                }
            }
            last_was_ptr = matches!(t.data, TypeData::Ptr(_));
        }
        self.emit_name(fname, last_was_ptr);
        Ok(())
    }

    fn array_dim(&mut self, n: u32) {
        self.put(b"[");
        self.put_u64(u64::from(n));
        self.put(b"]");
    }
}
