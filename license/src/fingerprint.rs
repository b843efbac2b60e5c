//! Server fingerprints: what a license key is bound to.
//!
//! A fingerprint is a string of 16 to 128 characters from
//! `A-Z a-z 0-9 - _ . :`. Two versions exist:
//!
//! - **Version 1** (`nsfp1:` and 40 hexadecimal digits, or any other
//!   opaque string): a hash of `/etc/machine-id`. It matches only itself.
//! - **Version 2** (`nsfp2:M.B.D.N`): four components, each hashed with a
//!   product-specific salt (16 hexadecimal digits) or `none` when it could
//!   not be read, so that no raw serial number leaves the machine:
//!   - `machine`: the machine id (`/etc/machine-id`);
//!   - `board`: `/sys/class/dmi/id/product_uuid`, or the board serial;
//!   - `disk`: the root file system's disk (its serial, else the file
//!     system's UUID);
//!   - `nic`: the MAC address of the primary network interface (the one
//!     of the default route).
//!
//! A key bound to a version 2 fingerprint is valid on a machine where at
//! least 3 of the 4 components are present and equal: `exact` when none
//! differs, `tolerated` when one does. So a new network card or a
//! reinstalled OS keeps the key; an image restored onto other hardware
//! (same machine id, other board, disk and NIC) does not.
//!
//! ```
//! use neo_license::{Component, Components, MatchKind, compare};
//!
//! let old = Components::from_raw([
//!     (Component::Machine, "4c4c4544004e"),
//!     (Component::Board, "03000200-0400-0500-0006-000700080009"),
//!     (Component::Disk, "S4EWNX0R123456"),
//!     (Component::Nic, "52:54:00:12:34:56"),
//! ])
//! .fingerprint();
//! // The network card was replaced.
//! let new = Components::from_raw([
//!     (Component::Machine, "4c4c4544004e"),
//!     (Component::Board, "03000200-0400-0500-0006-000700080009"),
//!     (Component::Disk, "S4EWNX0R123456"),
//!     (Component::Nic, "52:54:00:ab:cd:ef"),
//! ])
//! .fingerprint();
//! assert!(new.as_str().starts_with("nsfp2:"));
//! let found = compare(&old, &new);
//! assert_eq!(found.kind, MatchKind::Tolerated);
//! assert_eq!(found.changed, vec![Component::Nic]);
//! assert!(found.is_valid());
//! ```

use std::fmt;

use sha2::{Digest, Sha256};

/// The prefix of a version 1 fingerprint this library computes.
pub const V1_PREFIX: &str = "nsfp1:";
/// The prefix of every version 2 fingerprint.
pub const V2_PREFIX: &str = "nsfp2:";
/// How a component that could not be read is written.
const ABSENT: &str = "none";
/// Hexadecimal digits of a hashed component.
const COMPONENT_HEX: usize = 16;
/// Equal components a version 2 match needs.
const NEEDED: usize = 3;

/// A server fingerprint: 16 to 128 characters from `A-Z a-z 0-9 - _ . :`;
/// one that starts with `nsfp2:` must be a well-formed version 2
/// fingerprint.
///
/// ```
/// use neo_license::Fingerprint;
///
/// assert!(Fingerprint::parse("srv-01.example:ABCDEF12").is_ok());
/// assert!(Fingerprint::parse("too-short").is_err());
/// assert!(Fingerprint::parse("nsfp2:not-hexadecimal").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Checks a fingerprint.
    pub fn parse(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if !(16..=128).contains(&text.len()) {
            return Err(format!(
                "a fingerprint has 16 to 128 characters, not {}",
                text.chars().count()
            ));
        }
        if !text.chars().all(allowed) {
            return Err("a fingerprint has only the characters A-Z a-z 0-9 - _ . :".into());
        }
        if text.starts_with(V2_PREFIX) && Components::parse(text).is_none() {
            return Err(format!(
                "a version 2 fingerprint is {V2_PREFIX} and four components separated by '.', \
                 each {COMPONENT_HEX} lowercase hexadecimal digits or '{ABSENT}'"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its components when it is a version 2 fingerprint.
    pub fn components(&self) -> Option<Components> {
        Components::parse(&self.0)
    }

    /// Whether a key bound to it can be valid anywhere: always for version
    /// 1; for version 2 when at least 3 components are present.
    pub fn can_match(&self) -> bool {
        self.components().is_none_or(|c| {
            Component::ALL
                .iter()
                .filter(|&&n| c.get(n).is_some())
                .count()
                >= NEEDED
        })
    }

    /// This machine's version 1 fingerprint: `nsfp1:` and the first 40
    /// hexadecimal digits of SHA-256 over a fixed label and the machine id
    /// (`/etc/machine-id`, else `/var/lib/dbus/machine-id`).
    pub fn v1_this_machine() -> Result<Self, String> {
        let machine_id = read_machine_id()
            .ok_or("no machine id in /etc/machine-id or /var/lib/dbus/machine-id")?;
        let digest = Sha256::digest(format!("neo-support fingerprint v1\n{machine_id}").as_bytes());
        Ok(Self(format!("{V1_PREFIX}{}", hex(&digest[..20]))))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A component of a version 2 fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// The machine id.
    Machine,
    /// The board (product UUID or board serial).
    Board,
    /// The root file system's disk.
    Disk,
    /// The primary network interface's MAC address.
    Nic,
}

impl Component {
    /// All four, in the order of the fingerprint's text.
    pub const ALL: [Component; 4] = [Self::Machine, Self::Board, Self::Disk, Self::Nic];

    /// Its name: `machine`, `board`, `disk` or `nic`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Machine => "machine",
            Self::Board => "board",
            Self::Disk => "disk",
            Self::Nic => "nic",
        }
    }

    /// The component of a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        match self {
            Self::Machine => 0,
            Self::Board => 1,
            Self::Disk => 2,
            Self::Nic => 3,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The hashed components of a version 2 fingerprint; `None` where absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Components([Option<String>; 4]);

impl Components {
    /// The components of raw values (a machine id, a serial, a MAC
    /// address...), each hashed with the product's salt; those not given,
    /// or empty, are absent.
    pub fn from_raw<'a>(raw: impl IntoIterator<Item = (Component, &'a str)>) -> Self {
        let mut out = Self::default();
        for (component, value) in raw {
            out.0[component.index()] = hash_component(component, value);
        }
        out
    }

    /// This machine's components, read from `/etc` and `/sys`; any that
    /// cannot be read is absent, not an error.
    pub fn this_machine() -> Self {
        let machine = read_machine_id();
        let board = read_board();
        let disk = read_root_disk();
        let nic = read_primary_mac();
        let raw = [
            (Component::Machine, machine),
            (Component::Board, board),
            (Component::Disk, disk),
            (Component::Nic, nic),
        ];
        Self::from_raw(
            raw.iter()
                .filter_map(|(c, v)| v.as_deref().map(|v| (*c, v))),
        )
    }

    /// A component's hashed value, `None` when absent.
    pub fn get(&self, component: Component) -> Option<&str> {
        self.0[component.index()].as_deref()
    }

    /// The version 2 fingerprint of these components.
    pub fn fingerprint(&self) -> Fingerprint {
        let parts: Vec<&str> = self
            .0
            .iter()
            .map(|c| c.as_deref().unwrap_or(ABSENT))
            .collect();
        Fingerprint(format!("{V2_PREFIX}{}", parts.join(".")))
    }

    /// The components of a version 2 fingerprint's text.
    fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(V2_PREFIX)?;
        let mut out = Self::default();
        let mut pieces = rest.split('.');
        for slot in &mut out.0 {
            let piece = pieces.next()?;
            *slot = if piece == ABSENT {
                None
            } else if piece.len() == COMPONENT_HEX
                && piece
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                Some(piece.to_owned())
            } else {
                return None;
            };
        }
        pieces.next().is_none().then_some(out)
    }
}

/// How a presented fingerprint matches the one a key is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The same machine: every component equal (or the same version 1
    /// fingerprint).
    Exact,
    /// One component differs, at least 3 are present and equal.
    Tolerated,
    /// Another machine.
    Mismatch,
}

impl MatchKind {
    /// `exact`, `tolerated` or `mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Tolerated => "tolerated",
            Self::Mismatch => "mismatch",
        }
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintMatch {
    /// How it matches.
    pub kind: MatchKind,
    /// The version 2 components that differ (present on one side only, or
    /// with other values), in fingerprint order; empty for version 1.
    pub changed: Vec<Component>,
}

impl FingerprintMatch {
    /// Whether a key bound to the one fingerprint is valid on the machine
    /// of the other: `exact` or `tolerated`.
    pub fn is_valid(&self) -> bool {
        self.kind != MatchKind::Mismatch
    }

    /// The names of the changed components.
    pub fn changed_names(&self) -> Vec<&'static str> {
        self.changed.iter().map(|c| c.name()).collect()
    }
}

/// How `presented` (this machine's fingerprint) matches `bound` (the one a
/// key is bound to).
///
/// Version 1 (and any opaque) fingerprints match only themselves. Two
/// version 2 fingerprints match when at least 3 components are present and
/// equal on both: `exact` when none differs, `tolerated` when one does. A
/// version 1 fingerprint never matches a version 2 one.
///
/// ```
/// use neo_license::{Fingerprint, MatchKind, compare};
///
/// let v1 = Fingerprint::parse("nsfp1:0123456789abcdef0123456789abcdef01234567")?;
/// assert_eq!(compare(&v1, &v1).kind, MatchKind::Exact);
/// let other = Fingerprint::parse("nsfp1:ffffffffffffffffffffffffffffffffffffffff")?;
/// assert_eq!(compare(&v1, &other).kind, MatchKind::Mismatch);
/// # Ok::<(), String>(())
/// ```
pub fn compare(bound: &Fingerprint, presented: &Fingerprint) -> FingerprintMatch {
    match (bound.components(), presented.components()) {
        (Some(bound), Some(presented)) => {
            let mut equal = 0;
            let mut changed = Vec::new();
            for component in Component::ALL {
                match (bound.get(component), presented.get(component)) {
                    (Some(a), Some(b)) if a == b => equal += 1,
                    (None, None) => {}
                    _ => changed.push(component),
                }
            }
            let kind = if equal < NEEDED {
                MatchKind::Mismatch
            } else if changed.is_empty() {
                MatchKind::Exact
            } else {
                MatchKind::Tolerated
            };
            FingerprintMatch { kind, changed }
        }
        (None, None) if bound == presented => FingerprintMatch {
            kind: MatchKind::Exact,
            changed: Vec::new(),
        },
        _ => FingerprintMatch {
            kind: MatchKind::Mismatch,
            changed: Vec::new(),
        },
    }
}

/// A raw value hashed with the product's salt: the first 16 hexadecimal
/// digits of SHA-256; `None` for an empty value.
fn hash_component(component: Component, raw: &str) -> Option<String> {
    let value = raw.trim();
    if value.is_empty() {
        return None;
    }
    // MAC addresses, UUIDs and serials compare without case.
    let value = value.to_ascii_lowercase();
    let digest = Sha256::new()
        .chain_update(b"desknet's NEO Backup Server\0fingerprint v2\0")
        .chain_update(component.name().as_bytes())
        .chain_update(b"\0")
        .chain_update(value.as_bytes())
        .finalize();
    Some(hex(&digest[..COMPONENT_HEX / 2]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's trimmed text, `None` when unreadable, empty or a placeholder
/// that firmware writes instead of a real value.
fn read_value(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text.trim();
    let lower = value.to_ascii_lowercase();
    let placeholder = value.is_empty()
        || value.bytes().all(|b| matches!(b, b'0' | b'-' | b':'))
        || value
            .bytes()
            .all(|b| matches!(b, b'f' | b'F' | b'-' | b':'))
        || [
            "not specified",
            "not applicable",
            "to be filled by o.e.m.",
            "default string",
            "none",
            "system serial number",
        ]
        .contains(&lower.as_str());
    (!placeholder).then(|| value.to_owned())
}

fn read_machine_id() -> Option<String> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .into_iter()
        .find_map(read_value)
}

fn read_board() -> Option<String> {
    [
        "/sys/class/dmi/id/product_uuid",
        "/sys/class/dmi/id/board_serial",
    ]
    .into_iter()
    .find_map(read_value)
}

/// The root file system's disk: the serial of its block device (or of
/// the disk a partition is on), else the file system's UUID.
fn read_root_disk() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // The last line mounted on / is the one in effect.
    let device = mountinfo
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some("/"))
        .filter_map(|line| line.split(' ').nth(2))
        .next_back()?
        .to_owned();
    let sys = format!("/sys/dev/block/{device}");
    for path in [
        format!("{sys}/device/serial"),
        format!("{sys}/../device/serial"),
        format!("{sys}/device/wwid"),
        format!("{sys}/../device/wwid"),
        format!("{sys}/serial"),
    ] {
        if let Some(serial) = read_value(&path) {
            return Some(serial);
        }
    }
    filesystem_uuid(&device)
}

/// The UUID under `/dev/disk/by-uuid` of block device `major:minor`.
fn filesystem_uuid(device: &str) -> Option<String> {
    let own = std::fs::canonicalize(format!("/dev/block/{device}")).ok()?;
    std::fs::read_dir("/dev/disk/by-uuid")
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| std::fs::canonicalize(entry.path()).is_ok_and(|p| p == own))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
}

/// The MAC address of the interface of the default route (else the first
/// interface with a real address).
fn read_primary_mac() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let default = routes.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        (fields.next()? == "00000000").then(|| name.to_owned())
    });
    let mut names: Vec<String> = default.into_iter().collect();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        let mut others: Vec<String> = dir
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lo")
            .collect();
        others.sort();
        names.extend(others);
    }
    names
        .iter()
        .find_map(|name| read_value(&format!("/sys/class/net/{name}/address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "1b4e28ba2fa1-machine";
    const BOARD: &str = "03000200-0400-0500-0006-000700080009";
    const DISK: &str = "S4EWNX0R123456";
    const NIC: &str = "52:54:00:12:34:56";

    fn fp(
        machine: Option<&str>,
        board: Option<&str>,
        disk: Option<&str>,
        nic: Option<&str>,
    ) -> Fingerprint {
        let raw = [
            (Component::Machine, machine),
            (Component::Board, board),
            (Component::Disk, disk),
            (Component::Nic, nic),
        ];
        Components::from_raw(raw.into_iter().filter_map(|(c, v)| v.map(|v| (c, v)))).fingerprint()
    }

    fn original() -> Fingerprint {
        fp(Some(MACHINE), Some(BOARD), Some(DISK), Some(NIC))
    }

    #[test]
    fn fingerprints_are_16_to_128_characters_from_the_allowed_set() {
        assert!(Fingerprint::parse("srv-01.example:ABCDEF12").is_ok());
        assert!(Fingerprint::parse(&"a".repeat(16)).is_ok());
        assert!(Fingerprint::parse(&"a".repeat(128)).is_ok());
        assert!(Fingerprint::parse(&"a".repeat(15)).is_err());
        assert!(Fingerprint::parse(&"a".repeat(129)).is_err());
        for bad in [
            "has space in it!!",
            "slash/is/not/allowed",
            "ｆｕｌｌｗｉｄｔｈ１２３４５６７８",
            "semi;colon;isnt;ok",
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_machine_is_an_exact_match() {
        let found = compare(&original(), &original());
        assert_eq!(found.kind, MatchKind::Exact);
        assert!(found.changed.is_empty());
        assert!(found.is_valid());
    }

    #[test]
    fn a_new_network_card_is_tolerated() {
        let new = fp(
            Some(MACHINE),
            Some(BOARD),
            Some(DISK),
            Some("52:54:00:ab:cd:ef"),
        );
        let found = compare(&original(), &new);
        assert_eq!(found.kind, MatchKind::Tolerated);
        assert_eq!(found.changed_names(), ["nic"]);
    }

    #[test]
    fn a_reinstalled_os_is_tolerated() {
        let new = fp(Some("a-new-machine-id"), Some(BOARD), Some(DISK), Some(NIC));
        let found = compare(&original(), &new);
        assert_eq!(found.kind, MatchKind::Tolerated);
        assert_eq!(found.changed, vec![Component::Machine]);
    }

    #[test]
    fn an_image_restored_on_other_hardware_is_a_mismatch() {
        let new = fp(
            Some(MACHINE),
            Some("other-board"),
            Some("other-disk"),
            Some("02:00:00:00:00:01"),
        );
        let found = compare(&original(), &new);
        assert_eq!(found.kind, MatchKind::Mismatch);
        assert_eq!(found.changed_names(), ["board", "disk", "nic"]);
        assert!(!found.is_valid());
    }

    #[test]
    fn two_changed_components_are_a_mismatch() {
        let new = fp(
            Some("new-machine"),
            Some(BOARD),
            Some(DISK),
            Some("02:00:00:00:00:01"),
        );
        assert_eq!(compare(&original(), &new).kind, MatchKind::Mismatch);
    }

    #[test]
    fn an_absent_component_counts_as_changed_and_needs_the_other_three() {
        // Absent on the machine now: 3 equal, one differs.
        let no_nic = fp(Some(MACHINE), Some(BOARD), Some(DISK), None);
        let found = compare(&original(), &no_nic);
        assert_eq!(found.kind, MatchKind::Tolerated);
        assert_eq!(found.changed_names(), ["nic"]);
        // Absent on both: nothing differs, 3 equal.
        assert_eq!(compare(&no_nic, &no_nic).kind, MatchKind::Exact);
        // Two absent on both: only 2 equal, never valid.
        let two = fp(Some(MACHINE), Some(BOARD), None, None);
        assert_eq!(compare(&two, &two).kind, MatchKind::Mismatch);
        assert!(!two.can_match());
        assert!(no_nic.can_match());
    }

    #[test]
    fn version_1_fingerprints_match_only_themselves() {
        let v1 = Fingerprint::parse("nsfp1:0123456789abcdef0123456789abcdef01234567").unwrap();
        let opaque = Fingerprint::parse("old-server-fingerprint").unwrap();
        assert_eq!(compare(&v1, &v1).kind, MatchKind::Exact);
        assert_eq!(compare(&opaque, &opaque).kind, MatchKind::Exact);
        assert_eq!(compare(&v1, &opaque).kind, MatchKind::Mismatch);
        assert_eq!(compare(&v1, &original()).kind, MatchKind::Mismatch);
        assert_eq!(compare(&original(), &v1).kind, MatchKind::Mismatch);
        assert!(v1.can_match());
    }

    #[test]
    fn the_text_form_fits_the_fingerprint_rules_and_parses_back() {
        for fingerprint in [
            original(),
            fp(None, None, None, None),
            fp(Some(MACHINE), None, None, None),
        ] {
            let text = fingerprint.as_str();
            assert!(text.starts_with("nsfp2:"), "{text}");
            assert_eq!(Fingerprint::parse(text), Ok(fingerprint.clone()));
            assert!(!text.contains(MACHINE) && !text.contains(DISK));
        }
        assert_eq!(original().as_str().len(), 6 + 4 * 16 + 3);
        assert_eq!(
            fp(None, None, None, None).as_str(),
            "nsfp2:none.none.none.none"
        );
    }

    #[test]
    fn malformed_version_2_text_is_refused() {
        let good = original();
        let text = good.as_str();
        for bad in [
            format!("{text}.none"),
            text.replace("nsfp2:", "nsfp2:x"),
            text.to_uppercase().replace("NSFP2:", "nsfp2:"),
            "nsfp2:none.none.none".to_owned(),
            "nsfp2:none.none.none.nonE".to_owned(),
        ] {
            assert!(Fingerprint::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_hash_per_component_and_without_case() {
        let a = Components::from_raw([(Component::Nic, "52:54:00:AB:CD:EF")]);
        let b = Components::from_raw([(Component::Nic, " 52:54:00:ab:cd:ef\n")]);
        assert_eq!(a, b);
        let as_disk = Components::from_raw([(Component::Disk, "52:54:00:ab:cd:ef")]);
        assert_ne!(a.get(Component::Nic), as_disk.get(Component::Disk));
        let empty = Components::from_raw([(Component::Nic, "  ")]);
        assert_eq!(empty.get(Component::Nic), None);
    }

    #[test]
    fn this_machine_never_fails() {
        let fingerprint = Components::this_machine().fingerprint();
        assert!(Fingerprint::parse(fingerprint.as_str()).is_ok());
    }
}
