//! Validated input: each type checks its value once, where it enters (the API edge), so that
//! domain functions cannot receive unchecked text. Errors name the field and say what is wrong.

use crate::error::AppError;
use crate::model::Severity;

/// Trimmed text of 1..=max printable characters (newlines allowed when `multiline`).
pub fn text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::Invalid(format!("{field}: required")));
    }
    if v.chars().count() > max {
        return Err(AppError::Invalid(format!("{field}: at most {max} characters")));
    }
    if v.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
    {
        return Err(AppError::Invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(v.to_string())
}

/// A text type: `parse` checks it (field name, length, printable), `parse_optional` takes empty
/// input as no value.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $multiline:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<$name, AppError> {
                text($field, value, $max, $multiline).map($name)
            }

            /// Empty (or blank) input is no value; anything else must parse.
            pub fn parse_optional(value: &str) -> Result<Option<$name>, AppError> {
                if value.trim().is_empty() { Ok(None) } else { $name::parse(value).map(Some) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(/// An incident's title: one line, at most 200 characters.
    Title, "title", 200, false);
text_type!(/// Why: one line, at most 500 characters (severity changes, rollbacks, access, revocation).
    Reason, "reason", 500, false);
text_type!(/// An approver's comment on a decision: one line, at most 500 characters.
    Comment, "comment", 500, false);
text_type!(/// What is known when an incident is declared: its first note, at most 4,000 characters.
    Summary, "summary", 4000, true);
text_type!(/// The note that goes with a status change, at most 2,000 characters.
    StatusNote, "note", 2000, true);
text_type!(/// A timeline note, update or correction, at most 4,000 characters.
    NoteText, "text", 4000, true);
text_type!(/// The review note of an emergency grant: one line, at most 2,000 characters.
    ReviewNote, "note", 2000, false);
text_type!(/// A post-mortem in Markdown, at most 50,000 characters.
    Postmortem, "postmortem", 50_000, true);
text_type!(/// An incident's ticket reference: one line, at most 64 characters.
    Ticket, "ticket", 64, false);
text_type!(/// An ECS cluster name or ARN.
    ClusterName, "cluster", 255, false);
text_type!(/// An ECS service name.
    ServiceName, "service", 255, false);
text_type!(/// A task definition to roll back to (`family:revision` or its ARN).
    Revision, "to", 255, false);

/// A comma-separated list of names (alarms, `cluster/service`), each checked, duplicates dropped,
/// at most 20.
fn names(field: &str, value: &str, service: bool) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for n in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let n = text(field, n, 255, false)?;
        if service && n.split('/').count() != 2 {
            return Err(AppError::Invalid(format!("{field}: \"{n}\" must be cluster/service")));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.len() > 20 {
        return Err(AppError::Invalid(format!("{field}: at most 20")));
    }
    Ok(out)
}

/// Alarm names linked to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmNames(Vec<String>);

impl AlarmNames {
    pub fn parse(value: &str) -> Result<AlarmNames, AppError> {
        names("alarms", value, false).map(AlarmNames)
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// `cluster/service` pairs linked to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRefs(Vec<String>);

impl ServiceRefs {
    pub fn parse(value: &str) -> Result<ServiceRefs, AppError> {
        names("services", value, true).map(ServiceRefs)
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// A severity from a form or API call: 1 to 4.
pub fn severity(value: u8) -> Result<Severity, AppError> {
    Severity::new(value).ok_or_else(|| AppError::Invalid(format!("severity: {value} is not 1-4 (SEV1-SEV4)")))
}

/// A user name for an incident role (commander, communications), or nobody (empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person(String);

impl Person {
    /// Letters, digits and `. _ @ - + :`, at most 100; empty means unassigned.
    pub fn parse(field: &str, v: &str) -> Result<Person, AppError> {
        let v = v.trim();
        if v.len() > 100 || !v.chars().all(|c| c.is_alphanumeric() || "._@-+:".contains(c)) {
            return Err(AppError::Invalid(format!(
                "{field}: a user name of letters, digits and . _ @ - + :"
            )));
        }
        Ok(Person(v.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Minutes of access asked for: 1 to 60 (sessions are limited to one hour; a profile may allow less).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minutes(u32);

impl Minutes {
    pub fn parse(value: u32) -> Result<Minutes, AppError> {
        if (1..=60).contains(&value) {
            Ok(Minutes(value))
        } else {
            Err(AppError::Invalid(format!(
                "minutes: {value} is not 1 to 60 (sessions are limited to 1 hour)"
            )))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked() {
        assert!(Title::parse("  ").is_err());
        assert!(Title::parse("a\u{7}b").is_err());
        assert!(NoteText::parse("line\nline").is_ok());
        assert!(Reason::parse("line\nline").is_err());
        assert_eq!(Ticket::parse_optional(" ").ok(), Some(None));
        assert!(ServiceRefs::parse("c1/api, c1/web").is_ok());
        assert!(ServiceRefs::parse("api").is_err());
        assert_eq!(
            AlarmNames::parse("a, b, a").map(AlarmNames::into_vec).ok(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(severity(0).is_err() && severity(5).is_err() && severity(2).is_ok());
        assert!(Person::parse("commander", "bob smith").is_err());
        assert_eq!(
            Person::parse("commander", " ").map(Person::into_string).ok(),
            Some(String::new())
        );
        assert!(Minutes::parse(0).is_err() && Minutes::parse(61).is_err() && Minutes::parse(60).is_ok());
        assert!(Title::parse(&"x".repeat(201)).is_err());
    }
}
