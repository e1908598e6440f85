//! Serde support for the registry's typed ids (feature `serde`): each id is written as the
//! string that the CLI, the Python module and the config files use (`"maxpo"`, `"std"`,
//! `"shrink-k"`, `"split"`, `"1:1,8:0.5"`) and read back through its `FromStr`, so an unknown id
//! is a deserialisation error that lists the known ones. Config files and committed results
//! therefore carry the same text as before the ids were typed.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Estimator, Mixture, Scale, SmallGroups, Ties};

/// Reads any `FromStr` id from a string, with the `FromStr` error as the message.
struct IdVisitor<T>(PhantomData<T>, &'static str);

impl<T> Visitor<'_> for IdVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} id as a string", self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

macro_rules! string_id {
    ($ty:ty, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(IdVisitor(PhantomData, $what))
            }
        }
    };
}

string_id!(Estimator, "an estimator");
string_id!(Scale, "a scale");
string_id!(SmallGroups, "a small-groups rule");
string_id!(Ties, "a maj@K tie rule");
string_id!(Mixture, "a mixture of K");

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(all: &[T])
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug + fmt::Display,
    {
        for x in all {
            let text = serde_json::to_string(x).unwrap();
            assert_eq!(text, format!("\"{x}\""));
            assert_eq!(&serde_json::from_str::<T>(&text).unwrap(), x);
        }
    }

    #[test]
    fn ids_are_their_strings_both_ways() {
        round_trip(&Estimator::ALL);
        round_trip(&Scale::ALL);
        round_trip(&SmallGroups::ALL);
        round_trip(&Ties::ALL);
        round_trip(&[Mixture::Harmonic, "1:1,8:0.5".parse::<Mixture>().unwrap()]);
    }

    #[test]
    fn an_unknown_id_names_itself_and_the_known_ones() {
        let err = serde_json::from_str::<Estimator>("\"maxpoo\"").unwrap_err().to_string();
        assert!(err.contains("maxpoo") && err.contains("pkpo-loo1"), "{err}");
        let err = serde_json::from_str::<Scale>("3").unwrap_err().to_string();
        assert!(err.contains("a scale id as a string"), "{err}");
    }
}
