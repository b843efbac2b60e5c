//! Where an inquiry's replies may go: the contract's contact address, or
//! an address in one of the contract's mail domains (the contact address's
//! own domain and the domains staff add). Anything else would let a
//! customer's token make the vendor's mail server write to strangers.

use super::contract::EmailAddress;

/// Most mail domains staff can add to one contract.
pub const MAX_MAIL_DOMAINS: usize = 20;

/// A mail domain: a DNS name of at least two labels, in lower case ASCII
/// (an internationalised domain in its `xn--` form), at most 253
/// characters, each label 1-63 of `a-z 0-9 -` not starting or ending with
/// `-`, the last one not all digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MailDomain(String);

impl MailDomain {
    /// Checks a domain, ignoring case (`Example.CO.JP` is `example.co.jp`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("{:?} is not a mail domain: {why}", shorten(text));
        let domain = text.to_ascii_lowercase();
        if domain.is_empty() || domain.len() > 253 {
            return Err(invalid("it has 1 to 253 characters"));
        }
        if !domain.is_ascii() {
            return Err(invalid(
                "write an internationalised domain in its xn-- form",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("it needs at least two labels, as in example.co.jp"));
        }
        for label in &labels {
            let ok = (1..=63).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(invalid(
                    "each label has 1 to 63 of a-z 0-9 - and does not start or end with -",
                ));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid("an IP address is not a mail domain"));
        }
        Ok(Self(domain))
    }

    /// The domain in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 64 characters of a refused value, for the error message.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The domain part of an address, in lower case.
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Whether replies may go to `reply_to`: it is the contact address, or its
/// domain is the contact address's domain or one of `added` (exactly: a
/// subdomain is another domain). Case does not matter.
pub fn reply_to_allowed(reply_to: &EmailAddress, contact_email: &str, added: &[String]) -> bool {
    let domain = domain_of(reply_to.as_str());
    reply_to.as_str().eq_ignore_ascii_case(contact_email)
        || domain == domain_of(contact_email)
        || added.iter().any(|d| d.eq_ignore_ascii_case(&domain))
}

/// Why a change of mail domains is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailDomainRefusal {
    /// The contact address's domain is always allowed.
    #[error("{0} is the contact address's domain, which is always allowed and cannot be removed")]
    ContactDomain(String),
    /// Removing a domain the contract does not have (a typo, probably).
    #[error("{0} is not one of the contract's added mail domains")]
    NotAdded(String),
    /// Too many.
    #[error("a contract has at most {MAX_MAIL_DOMAINS} added mail domains")]
    TooMany,
}

impl MailDomainRefusal {
    /// The request field the refusal is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::ContactDomain(_) | Self::NotAdded(_) => "remove_mail_domains",
            Self::TooMany => "add_mail_domains",
        }
    }
}

/// The contract's added mail domains after adding `add` and removing
/// `remove`, in name order. Adding one it has (or the contact's own
/// domain) changes nothing.
pub fn decide_mail_domains(
    current: &[String],
    contact_email: &str,
    add: &[MailDomain],
    remove: &[MailDomain],
) -> Result<Vec<String>, MailDomainRefusal> {
    let contact = domain_of(contact_email);
    let mut domains: std::collections::BTreeSet<String> = current.iter().cloned().collect();
    for domain in remove {
        if domain.as_str() == contact {
            return Err(MailDomainRefusal::ContactDomain(contact));
        }
        if !domains.remove(domain.as_str()) {
            return Err(MailDomainRefusal::NotAdded(domain.as_str().to_owned()));
        }
    }
    for domain in add {
        if domain.as_str() != contact {
            domains.insert(domain.as_str().to_owned());
        }
    }
    if domains.len() > MAX_MAIL_DOMAINS {
        return Err(MailDomainRefusal::TooMany);
    }
    Ok(domains.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    #[test]
    fn mail_domains_are_dns_names_in_lower_case() {
        assert_eq!(
            MailDomain::parse("Example.CO.JP").unwrap().as_str(),
            "example.co.jp"
        );
        assert!(MailDomain::parse("xn--eckwd4c7c.xn--zckzah").is_ok());
        for bad in [
            "",
            "localhost",
            "example..jp",
            ".example.jp",
            "-a.example.jp",
            "a-.example.jp",
            "exa mple.jp",
            "evil.example/login",
            "user@example.jp",
            "例え.jp",
            "192.0.2.1",
            "a.example.jp\r\nBcc: x",
        ] {
            assert!(MailDomain::parse(bad).is_err(), "{bad:?}");
        }
        assert!(MailDomain::parse(&format!("{}.jp", "a".repeat(64))).is_err());
    }

    #[test]
    fn replies_go_to_the_contact_or_the_contracts_domains_only() {
        let added = vec!["partner.example.jp".to_owned()];
        let contact = "it-admin@Example.co.jp";
        for ok in [
            "it-admin@example.co.jp",
            "tanaka@example.co.jp",
            "Tanaka@EXAMPLE.CO.JP",
            "sato@partner.example.jp",
        ] {
            assert!(reply_to_allowed(&address(ok), contact, &added), "{ok}");
        }
        for refused in [
            "victim@gmail.example.com",
            "x@sub.example.co.jp",
            "x@example.co.jp.evil.example",
            "x@partner.example.jp.evil.example",
        ] {
            assert!(
                !reply_to_allowed(&address(refused), contact, &added),
                "{refused}"
            );
        }
    }

    #[test]
    fn domains_are_added_and_removed_with_the_contact_domain_kept() {
        let d = |t: &str| MailDomain::parse(t).unwrap();
        let contact = "a@example.co.jp";
        let current = vec!["b.example.jp".to_owned()];
        assert_eq!(
            decide_mail_domains(
                &current,
                contact,
                &[d("c.example.jp"), d("example.co.jp")],
                &[]
            ),
            Ok(vec!["b.example.jp".to_owned(), "c.example.jp".to_owned()])
        );
        assert_eq!(
            decide_mail_domains(&current, contact, &[], &[d("b.example.jp")]),
            Ok(vec![])
        );
        assert_eq!(
            decide_mail_domains(&current, contact, &[], &[d("example.co.jp")])
                .unwrap_err()
                .field(),
            "remove_mail_domains"
        );
        assert!(matches!(
            decide_mail_domains(&current, contact, &[], &[d("x.example.jp")]),
            Err(MailDomainRefusal::NotAdded(_))
        ));
        let many: Vec<MailDomain> = (0..MAX_MAIL_DOMAINS)
            .map(|i| d(&format!("d{i}.example.jp")))
            .collect();
        assert_eq!(
            decide_mail_domains(&current, contact, &many, &[]),
            Err(MailDomainRefusal::TooMany)
        );
    }
}
