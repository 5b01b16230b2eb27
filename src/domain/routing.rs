use super::{Priority, ValidationError};

/// "Tickets mentioning `keyword` are at least `priority`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityRule {
    /// One or more words, lower case; matched as whole words, in order.
    pub keyword: String,
    /// The priority a match raises the ticket to.
    pub priority: Priority,
}

/// The prioritisation rules, from configuration (`QUICKFIX_PRIORITY_RULES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityRules(Vec<PriorityRule>);

impl PriorityRules {
    /// The rules QuickFix starts with: outages are critical, urgency is high.
    pub const DEFAULT_SPEC: &'static str = "outage:Critical,down:Critical,urgent:High";

    /// Parses `keyword:Priority` pairs separated by commas (an empty spec means no rules).
    ///
    /// # Errors
    /// When a pair has no `:`, an empty keyword or an unknown priority.
    pub fn parse(spec: &str) -> Result<Self, ValidationError> {
        let mut rules = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (keyword, priority) = pair.rsplit_once(':').ok_or_else(|| {
                ValidationError::new(
                    "QUICKFIX_PRIORITY_RULES",
                    format!("`{pair}` is not keyword:Priority"),
                )
            })?;
            let keyword = words(keyword).join(" ");
            if keyword.is_empty() {
                return Err(ValidationError::new(
                    "QUICKFIX_PRIORITY_RULES",
                    format!("`{pair}` has no keyword"),
                ));
            }
            let priority = Priority::parse_field("QUICKFIX_PRIORITY_RULES", priority)?;
            rules.push(PriorityRule { keyword, priority });
        }
        Ok(Self(rules))
    }

    /// The rule giving the highest priority that matches the text, if any (the first such rule
    /// when several give the same priority).
    pub fn best_match(&self, title: &str, description: &str) -> Option<&PriorityRule> {
        let text: Vec<String> = words(title).into_iter().chain(words(description)).collect();
        let mut best: Option<&PriorityRule> = None;
        for rule in &self.0 {
            let wanted: Vec<&str> = rule.keyword.split(' ').collect();
            let found = text
                .windows(wanted.len())
                .any(|w| w.iter().zip(&wanted).all(|(a, b)| a == b));
            if found && best.is_none_or(|b| rule.priority > b.priority) {
                best = Some(rule);
            }
        }
        best
    }
}

impl Default for PriorityRules {
    fn default() -> Self {
        Self::parse(Self::DEFAULT_SPEC).expect("BUG: default rules parse")
    }
}

/// Lower-case words of `text` (letters and digits; everything else separates).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_highest_matching_rule_wins_on_whole_words() {
        let rules = PriorityRules::default();
        assert_eq!(
            rules
                .best_match("URGENT: site is down", "")
                .unwrap()
                .priority,
            Priority::Critical
        );
        assert_eq!(
            rules
                .best_match("Urgent request", "please")
                .unwrap()
                .keyword,
            "urgent"
        );
        assert!(
            rules
                .best_match("Download fails", "countdown widget")
                .is_none(),
            "whole words only"
        );
        assert_eq!(
            rules
                .best_match("Help", "there is an OUTAGE")
                .unwrap()
                .priority,
            Priority::Critical
        );
    }

    #[test]
    fn phrases_and_bad_specs() {
        let rules = PriorityRules::parse("data loss:Critical, invoice:Low").unwrap();
        assert!(rules.best_match("we had data loss", "").is_some());
        assert!(rules.best_match("loss of data", "").is_none());
        assert!(
            PriorityRules::parse("")
                .unwrap()
                .best_match("outage", "")
                .is_none()
        );
        for bad in ["outage", ":High", "outage:Huge"] {
            assert!(PriorityRules::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_match_means_the_keyword_is_in_the_text(title in "[a-zA-Z ]{0,40}", desc in "[a-zA-Z ]{0,40}") {
            if let Some(rule) = PriorityRules::default().best_match(&title, &desc) {
                let text = format!("{title} {desc}").to_lowercase();
                prop_assert!(text.contains(&rule.keyword));
            }
        }
    }
}
