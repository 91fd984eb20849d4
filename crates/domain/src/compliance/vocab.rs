//! The closed vocabularies of the compliance module. Unlike the risk
//! module's (always snake_case), some of these travel in UPPER case on the
//! wire (`PASSED`, `CRITICAL`, `NON_COMPLIANT`, as the issue spells them),
//! so each variant names its exact text once and serde, `as_str` and
//! `parse` all use it.

macro_rules! vocabulary {
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
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value with this exact wire spelling.
            pub fn parse(s: &str) -> Result<Self, $crate::risk::UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::risk::UnknownValue {
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
            type Err = $crate::risk::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

pub(crate) use vocabulary;

#[cfg(test)]
mod tests {
    vocabulary!(
        /// A vocabulary used only here.
        Shade, field = "shade" {
            Light => "LIGHT",
            DarkGrey => "dark_grey",
        }
    );

    #[test]
    fn one_spelling_for_serde_display_and_parse() {
        for s in Shade::ALL {
            assert_eq!(Shade::parse(s.as_str()), Ok(*s));
            let json = serde_json::to_string(s).ok();
            assert_eq!(json, Some(format!("\"{s}\"")));
        }
        assert_eq!(Shade::parse("light").map_err(|e| e.field), Err("shade"));
        assert!(Shade::Light < Shade::DarkGrey);
    }
}
