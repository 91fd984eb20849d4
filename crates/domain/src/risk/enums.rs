//! The closed vocabularies of the risk module (asset types, statuses,
//! severities...) share one shape: snake_case on the wire, `as_str`,
//! `parse`, `ALL`. One macro keeps them from drifting apart.

/// A name that is not one of a vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: unknown value (expected one of {expected})")]
pub struct UnknownValue {
    pub field: &'static str,
    pub expected: &'static str,
}

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::risk::enums::UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::risk::enums::UnknownValue {
                        field: $field,
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::risk::enums::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    string_enum!(
        /// A vocabulary used only here.
        Colour, field = "colour" {
            Red => "red",
            DarkBlue => "dark_blue",
        }
    );

    #[test]
    fn generated_vocabulary_round_trips_and_names_the_field() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Ok(*c));
        }
        let err = Colour::parse("green").err();
        assert_eq!(err.as_ref().map(|e| e.field), Some("colour"));
        assert_eq!(
            serde_json::to_string(&Colour::DarkBlue).ok().as_deref(),
            Some("\"dark_blue\"")
        );
        assert!(Colour::Red < Colour::DarkBlue);
    }
}
