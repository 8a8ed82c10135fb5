//! Static archives (`.a`): members are loaded only to define symbols that are still undefined,
//! as a static linker does, repeating until nothing more is pulled in.

use std::collections::{HashMap, HashSet};

use object::read::archive::{ArchiveFile, ArchiveMember};

use crate::LinkError;
use crate::graph::LinkGraph;
use crate::{Earlier, add_object};

/// Loads the members of archive `data` that define symbols undefined in `g` and not provided
/// by earlier links of the session. Weak references do not pull members in.
///
/// # Errors
/// An unreadable archive or member, or any error of loading a member.
pub(crate) fn add_archive(
    g: &mut LinkGraph,
    name: &str,
    data: &[u8],
    earlier: &Earlier<'_>,
) -> Result<(), LinkError> {
    let bad = |message: String| LinkError::BadInput { input: name.to_owned(), message };
    let archive = ArchiveFile::parse(data).map_err(|e| bad(format!("not an archive: {e}")))?;
    let members: Vec<ArchiveMember<'_>> =
        archive.members().collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?;
    let index = symbol_index(&archive, &members, data).map_err(bad)?;
    let mut loaded = HashSet::new();
    loop {
        let wanted: Vec<usize> = g
            .symbols
            .iter()
            .enumerate()
            .filter(|&(id, s)| {
                s.global && !s.weak && !g.is_defined(id) && earlier.dylib.lookup(&s.name).is_none()
            })
            .filter_map(|(_, s)| index.get(s.name.as_str()).copied())
            .filter(|m| !loaded.contains(m))
            .collect();
        let Some(&which) = wanted.first() else { return Ok(()) };
        loaded.insert(which);
        let member = &members[which];
        let member_name = format!("{name}({})", String::from_utf8_lossy(member.name()));
        let bytes = member.data(data).map_err(|e| bad(format!("{member_name}: {e}")))?;
        add_object(g, &member_name, bytes, earlier)?;
    }
}

/// Symbol name → index in `members`, from the archive's symbol table or, without one, by
/// reading every member.
fn symbol_index<'d>(
    archive: &ArchiveFile<'d>,
    members: &[ArchiveMember<'d>],
    data: &'d [u8],
) -> Result<HashMap<&'d str, usize>, String> {
    let mut index = HashMap::new();
    if let Some(symbols) = archive.symbols().map_err(|e| e.to_string())? {
        let by_start: HashMap<u64, usize> =
            members.iter().enumerate().map(|(i, m)| (m.file_range().0, i)).collect();
        for sym in symbols {
            let sym = sym.map_err(|e| e.to_string())?;
            let member = archive.member(sym.offset()).map_err(|e| e.to_string())?;
            let Some(&pos) = by_start.get(&member.file_range().0) else { continue };
            if let Ok(n) = std::str::from_utf8(sym.name()) {
                index.entry(n).or_insert(pos);
            }
        }
        return Ok(index);
    }
    use object::{Object, ObjectSymbol};
    for (pos, member) in members.iter().enumerate() {
        let Ok(file) = object::File::parse(member.data(data).map_err(|e| e.to_string())?) else { continue };
        for sym in file.symbols().filter(|s| s.is_global() && !s.is_undefined()) {
            if let Ok(n) = sym.name() {
                index.entry(n).or_insert(pos);
            }
        }
    }
    Ok(index)
}
