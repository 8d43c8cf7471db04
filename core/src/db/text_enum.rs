//! States and kinds are stored as TEXT (each column guarded by a CHECK constraint in its
//! migration) but handled as Rust enums everywhere else, so a typo is a compile error and an
//! unknown value read from the database is an error, never a silent default.
//!
//! `text_enum!` declares such an enum once: serde, diesel (`ToSql`/`FromSql` for `Text`), the
//! OpenAPI schema (with core's `openapi` feature, which the API turns on) and the text forms
//! all come from the one list of `Variant = "text"` pairs.

/// Declares a text-backed enum. See the module documentation.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize,
            ::diesel::expression::AsExpression, ::diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        #[cfg_attr(feature = "openapi", derive(::poem_openapi::Enum))]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "openapi", oai(rename = $text))]
                $variant,
            )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The accepted values, for error messages: `a, b or c`.
            pub fn expected() -> String {
                $crate::db::text_enum::one_of(Self::ALL.iter().map(|v| v.as_str()))
            }

            /// Parses user input, naming the field and the accepted values when it is wrong.
            pub fn parse_field(field: &'static str, text: &str) -> $crate::Result<Self> {
                Self::parse(text).ok_or_else(|| {
                    $crate::Error::validation(
                        field,
                        format!("{field} must be {}", Self::expected()),
                    )
                })
            }
        }

        impl $crate::db::text_enum::TextEnum for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn parse(text: &str) -> Option<Self> {
                $name::parse(text)
            }

            fn expected() -> String {
                $name::expected()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $name {
            fn from_sql(
                bytes: ::diesel::pg::PgValue<'_>,
            ) -> ::diesel::deserialize::Result<Self> {
                let text = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    ::diesel::pg::Pg,
                >>::from_sql(bytes)?;
                Self::parse(&text).ok_or_else(|| {
                    format!("unknown {} {text:?} in the database", stringify!($name)).into()
                })
            }
        }
    };
}

pub(crate) use text_enum;

/// What every `text_enum!` type can do, for code generic over them (API input checks).
pub trait TextEnum: Sized + Copy + Send + Sync + 'static {
    fn as_str(self) -> &'static str;
    fn parse(text: &str) -> Option<Self>;
    /// The accepted values: `a, b or c`.
    fn expected() -> String;
}

/// `a, b or c`.
pub fn one_of<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let values: Vec<&str> = values.collect();
    match values.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    text_enum! {
        /// A test enum.
        pub enum Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn text_forms_round_trip() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
        }
        assert_eq!(Colour::parse("Red"), None);
        assert_eq!(Colour::expected(), "red or dark_blue");
        let err = Colour::parse_field("colour", "green").unwrap_err();
        assert_eq!(err.to_string(), "colour must be red or dark_blue");
    }

    #[test]
    fn unknown_text_is_rejected_by_serde() {
        assert!(serde_json::from_str::<Colour>("\"green\"").is_err());
        assert_eq!(
            serde_json::from_str::<Colour>("\"dark_blue\"").unwrap(),
            Colour::DarkBlue
        );
    }

    /// The diesel impls only compile against a query; a real round trip needs PostgreSQL,
    /// which the integration suite provides. This keeps the expression types honest.
    #[allow(dead_code)]
    async fn expression_types(conn: &mut diesel_async::AsyncPgConnection) {
        let _: Vec<Colour> = diesel::select(Colour::Red.into_sql::<diesel::sql_types::Text>())
            .load(conn)
            .await
            .unwrap();
    }
}
