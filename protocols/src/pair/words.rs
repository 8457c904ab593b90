//! The words of pairing codes: 256 short, common English words, easy to say and to type
//! (the test below checks that they are distinct, lowercase ASCII, 3 to 8 letters long).

/// The word list: a word is one byte of a code's secret.
pub const WORDS: [&str; 256] = [
    "acorn", "adobe", "agent", "album", "alpine", "amber", "anchor", "angle", "apple", "apron",
    "arrow", "aspen", "atlas", "autumn", "avocado", "badge", "bagel", "bamboo", "banjo", "barley",
    "basil", "beacon", "beetle", "berry", "bison", "blanket", "blossom", "bonsai", "border",
    "bottle", "bramble", "breeze", "brick", "bridge", "bronze", "bubble", "bucket", "butter",
    "cabin", "cactus", "camel", "candle", "canoe", "canyon", "carbon", "carpet", "castle", "cedar",
    "cello", "chalk", "cherry", "chess", "cider", "cinder", "circus", "citrus", "clover", "cobalt",
    "cocoa", "comet", "copper", "coral", "cotton", "cowboy", "crane", "crayon", "cricket",
    "crystal", "cupcake", "cypress", "daisy", "delta", "denim", "desert", "diesel", "dolphin",
    "domino", "donkey", "dragon", "drum", "dune", "eagle", "easel", "ebony", "echo", "eclipse",
    "elbow", "ember", "emerald", "engine", "falcon", "fabric", "feather", "fern", "fiddle",
    "figure", "flame", "flint", "forest", "fossil", "fountain", "fox", "galaxy", "garden",
    "garlic", "gazelle", "geyser", "ginger", "glacier", "globe", "granite", "grape", "gravel",
    "guitar", "hammer", "harbor", "harvest", "hazel", "helmet", "heron", "hickory", "honey",
    "horizon", "husky", "igloo", "indigo", "iris", "island", "ivory", "jacket", "jaguar",
    "jasmine", "jelly", "jigsaw", "juniper", "kayak", "kernel", "kettle", "kiwi", "koala",
    "ladder", "lagoon", "lantern", "laser", "lemon", "lilac", "limbo", "linen", "lizard",
    "lobster", "locket", "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon",
    "meteor", "mint", "mirror", "mohair", "monsoon", "mosaic", "muffin", "nectar", "needle",
    "nickel", "noodle", "nutmeg", "oasis", "ocean", "olive", "onyx", "opal", "orbit", "orchid",
    "otter", "oyster", "paddle", "pagoda", "panda", "paprika", "parrot", "pebble", "pelican",
    "pepper", "piano", "pickle", "pillow", "pine", "pirate", "planet", "plum", "pocket", "polar",
    "poppy", "prairie", "pretzel", "pumpkin", "puzzle", "quartz", "quill", "rabbit", "radar",
    "raisin", "raven", "reef", "ribbon", "river", "robin", "rocket", "saddle", "saffron", "salmon",
    "satin", "scarf", "shadow", "sierra", "silver", "sketch", "sparrow", "spider", "spruce",
    "squash", "statue", "summit", "sunset", "swan", "tango", "teapot", "thistle", "thunder",
    "tiger", "timber", "tomato", "topaz", "tornado", "trumpet", "tulip", "tundra", "turtle",
    "tuxedo", "umbra", "velvet", "violin", "volcano", "wafer", "walnut", "walrus", "willow",
    "window", "winter", "wizard", "yogurt", "zebra",
];

/// The index of `word` (lowercase) in [`WORDS`].
pub fn index_of(word: &str) -> Option<u8> {
    WORDS.iter().position(|w| *w == word).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_distinct_lowercase_and_short() {
        let mut seen = std::collections::HashSet::new();
        for w in WORDS {
            assert!(seen.insert(w), "{w} twice");
            assert!((3..=8).contains(&w.len()), "{w}");
            assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
        }
        assert_eq!(index_of("acorn"), Some(0));
        assert_eq!(index_of("zebra"), Some(255));
        assert_eq!(index_of("Zebra"), None);
    }
}
