//! Validated input: each type checks its value once, where it enters (the API edge), so that
//! domain functions cannot receive unchecked text. Errors name the field and say what is wrong.

use crate::error::AppError;
use crate::model::Severity;

/// Characters that change how text around them is shown without being seen themselves: the
/// bidirectional overrides, embeddings, isolates and marks (which can make a reason read
/// differently from what it says, "Trojan Source"), the zero-width characters and the line and
/// paragraph separators.
pub fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Trimmed text of 1..=max printable characters (newlines and tabs allowed when `multiline`, with
/// `\r\n` and a bare `\r` normalised to `\n`). Control characters, bidirectional overrides and
/// zero-width characters are refused with the field and the character named.
pub fn text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, AppError> {
    let v = if multiline {
        value.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        value.to_string()
    };
    let v = v.trim();
    if v.is_empty() {
        return Err(AppError::Invalid(format!("{field}: required")));
    }
    if v.chars().count() > max {
        return Err(AppError::Invalid(format!("{field}: at most {max} characters")));
    }
    if v.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        return Err(AppError::Invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    if let Some(c) = v.chars().find(|c| invisible(*c)) {
        return Err(AppError::Invalid(format!(
            "{field}: invisible or direction-changing characters (U+{:04X}) are not allowed",
            u32::from(c)
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

    #[test]
    fn line_endings_are_normalised_and_a_bare_cr_is_a_newline() {
        assert_eq!(
            NoteText::parse("a\r\nb\rc\nd").map(NoteText::into_string).ok(),
            Some("a\nb\nc\nd".to_string())
        );
        assert!(Reason::parse("a\rb").is_err(), "one-line fields refuse any line break");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_refused_by_name() {
        // "Trojan Source": the reason reads "approve ticket" but holds an override.
        for (bad, code) in [
            ("rollback \u{202E}evil\u{202C} ok", "U+202E"),
            ("zero\u{200B}width", "U+200B"),
            ("isolate \u{2066}x\u{2069}", "U+2066"),
            ("bom\u{FEFF}", "U+FEFF"),
            ("mark\u{200F}", "U+200F"),
            ("joiner\u{2060}", "U+2060"),
        ] {
            for err in [
                Reason::parse(bad).err(),
                Comment::parse(bad).err(),
                Title::parse(bad).err(),
                NoteText::parse(bad).err(),
            ] {
                let msg = err.map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    msg.contains(code) && msg.contains("direction-changing"),
                    "{bad:?}: {msg}"
                );
            }
        }
        assert!(Title::parse("Ünïcödé 日本語 ok").is_ok());
    }
}
