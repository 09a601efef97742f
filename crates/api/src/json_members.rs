//! A JSON object read member by member, so that a member given twice can be refused: a
//! `serde_json::Map` keeps only the last, while a proxy or a log in front of the service may
//! read the first (RFC 8259 §4 leaves the meaning of repeated names to each implementation).

use serde_json::Value;

/// A JSON object's members in the order given, repeats included.
pub(crate) struct Members(pub(crate) Vec<(String, Value)>);

impl Members {
    /// The first name given more than once, if any.
    pub(crate) fn repeated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.0.iter().map(|(name, _)| name.as_str()).find(|name| !seen.insert(*name))
    }
}

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_order_and_repeats() {
        let members: Members = serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).expect("an object");
        assert_eq!(members.0.len(), 3);
        assert_eq!(members.repeated(), Some("a"));
        let members: Members = serde_json::from_str(r#"{"a": {"x": 1, "x": 2}, "b": 2}"#).expect("an object");
        assert_eq!(members.repeated(), None, "only the object's own members count");
        assert!(serde_json::from_str::<Members>("[1]").is_err());
    }
}
