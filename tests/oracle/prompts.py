"""Prompts and tokenizer corpus shared by the oracle scripts (deterministic)."""
import random

CHAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
CHAT_SYS = "<|im_start|>system\n{}<|im_end|>\n<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"

# next-token logits: prose, code, numbers, unicode, chat-formatted
LOGIT_PROMPTS = [
    "The quick brown fox jumps over the lazy dog. Then it ran into the forest and",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "#include <stdio.h>\n\nint main(void) {\n    printf(\"Hello, world!\\n\");\n",
    "SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY",
    "1, 2, 3, 5, 8, 13, 21, 34, 55,",
    "The year 1969 was when humans first landed on the Moon; 2024 is 55 years later, and 3.14159 is",
    "Le français est une langue romane. Elle est parlée en France, en Belgique et",
    "日本の首都は東京です。東京は",
    "Привет, как дела? Сегодня хорошая погода, и мы",
    "Emoji test: 🚀🌕 launch! 😀 smiles 👍🏽 and",
    "Mathematics: the derivative of x^2 is 2x, and the integral of 2x dx is",
    CHAT.format("What is the capital of France?"),
    CHAT.format("Write a haiku about autumn leaves."),
    CHAT.format("Explain what a neural network is in one sentence."),
    CHAT_SYS.format("You are a helpful assistant.", "List three primary colors."),
    CHAT.format("Translate 'good morning' into Spanish."),
    "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello! How can I help you today?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n",
    "    for (int i = 0; i < n; i++) {\n        sum += a[i] * b[i];\n    }\n    return",
    "{\"name\": \"Kestrel\", \"type\": \"bird\", \"speed_kmh\": 58, \"colors\": [\"brown\",",
    "Water boils at 100 degrees Celsius at sea level. At higher altitudes, it boils at",
    "Café, naïve, résumé, jalapeño, Straße, smørrebrød — words that",
]

GREEDY_PROMPTS = [
    CHAT.format("What is the capital of France?"),
    CHAT.format("Give me three tips for staying healthy."),
    CHAT.format("What is 12 times 12?"),
    CHAT.format("Write a Python function that reverses a string."),
    CHAT_SYS.format("You are a pirate.", "Describe your ship."),
    CHAT.format("Who wrote Romeo and Juliet?"),
    "The history of the Roman Empire",
    "def quicksort(arr):",
    "Once upon a time, there was a little robot who",
    "The three laws of thermodynamics are",
    CHAT.format("Translate 'thank you' into French, German and Italian."),
    "Photosynthesis is the process by which",
    # what `kestrel chat` renders for one user turn: SmolLM2's template adds its default system message
    CHAT_SYS.format("You are a helpful AI assistant named SmolLM, trained by Hugging Face", "Name three colors of the rainbow."),
]


def tokenizer_corpus():
    """At least 300 varied strings: hand-written edge cases plus seeded random mixes."""
    base = [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", " \n", "\n ", "\t\n", "\r\n", "a", "A", "Hello",
        " Hello", "  Hello", "Hello world", "Hello, world!", "HELLO WORLD", "hello   world", "hello\tworld",
        "hello\nworld", "hello\n\nworld", "Hello\n  world\n    indented", "I'm", "I'M", "you're", "we've", "they'll",
        "she'd", "it's", "don't", "'s", "'t", "'re", "''", "\"quoted\"", "'single'", "it''s",
        "0", "1", "12", "123", "1234", "12345", "123456789", "3.14159", "1,000,000", "1e10", "-42", "+7", "0x1F",
        "2024-11-22", "12:30:45", "$100", "50%", "#1", "v1.2.3", "192.168.0.1", "(555) 123-4567",
        "!!!", "???", "...", "…", "—", "–", "!?", "a.b.c", "a,b;c:d", "[1, 2, 3]", "{a: b}", "(x)", "<tag>",
        "</tag>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<s>", "</s>",
        "@user", "#hashtag", "a+b=c", "x^2", "f(x)", "a->b", "a=>b", "a::b", "a && b || c", "i++", "--flag",
        "snake_case_name", "camelCaseName", "PascalCaseName", "kebab-case-name", "SCREAMING_CASE",
        "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32",
        "/usr/local/bin/kestrel", "~/.config", "file.tar.gz",
        "Führer", "naïve café", "résumé", "Straße", "Ångström", "Ærø", "Ñandú", "ça va", "Œuvre", "Ł\u00f3d\u017a",
        "e\u0301", "a\u0308", "n\u0303o", "\u0301", "Cửa Việt", "Tiếng Việt", "İstanbul", "ıi", "ǅ",
        "Привет мир", "Здравствуйте", "Ελληνικά", "Ἀθῆναι", "שלום עולם", "مرحبا بالعالم", "السلام عليكم",
        "नमस्ते दुनिया", "हिन्दी", "বাংলা", "தமிழ்", "ไทย", "ภาษาไทย", "ქართული", "Հայերեն", "አማርኛ",
        "你好世界", "中文字符", "我想在apple工作1314151天～", "日本語のテキスト", "ひらがな", "カタカナ", "한국어 텍스트",
        "안녕하세요", "繁體中文", "𠜎𠜱𠝹", "キャ", "ｆｕｌｌｗｉｄｔｈ", "１２３",
        "🚀", "🦙", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦", "😶‍🌫️", "🏳️‍🌈", "❤️", "✅", "🇫🇷🇩🇪", "a🚀b", "🚀 rocket", "rocket 🚀",
        "\u200b", "\u200d", "\ufeffBOM", "\u00a0nbsp", "a\u3000b", "\u2028", "\u000b", "\u000c", "\x7f", "\x01\x02",
        "def f(x):\n    return x * 2\n", "if (a) {\n\tb();\n}", "for i in range(10):\n    print(i)",
        "int main() { return 0; }", "#include <stdio.h>", "SELECT * FROM t WHERE x = 1;", "<div class=\"a\">b</div>",
        "console.log('hi');", "fn main() { println!(\"hi\"); }", "let x: Vec<u8> = vec![];", "$ ls -la | grep foo",
        "// comment", "/* block */", "# heading", "**bold** _it_", "- item\n- item", "| a | b |\n|---|---|",
        "a" * 100, "ab" * 60, "supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "x" * 257, "9" * 80, " " * 40, "\n" * 20, "\t" * 10, "-" * 50, "=" * 30, "ha" * 30 + "!",
        "The quick brown fox jumps over the lazy dog.", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "ied 4 ½ months", "w048 7tuijk dsdfhu", "Hello, y'all! How are you 😁 ?", " discards", "' era", "\n =",
        "   Hello\n    Hello", "333333333", "нещо на Български", "កាន់តែពិសេសអាចខលចេញ",
        "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
    ]
    rng = random.Random(1234)
    pieces = ["the", " cat", "  ", "\n", "123", "4567", "é", "ü", "日本", "😀", "'s", "'ll", "!", "?", ".", ",",
              "\t", "ab", "XY", " 9", "Ω", "ß", "🇫🇷", "‍", "\u0301", "→", "©", "_", "-", "/", "\\", "\"",
              "<|im_end|>", "http://", "ΑΒΓ", "абв", "한", "ก", "ह", "ع", "  \n ", "0.5", "1e-3", "   x"]
    rand = []
    for i in range(160):
        n = rng.randint(1, 12)
        rand.append("".join(rng.choice(pieces) for _ in range(n)))
    # random printable unicode code points (no surrogates), varied scripts
    for i in range(40):
        s = []
        for _ in range(rng.randint(1, 20)):
            block = rng.choice([(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x4e00, 0x9fff),
                                (0x3040, 0x30ff), (0xac00, 0xd7a3), (0x1f300, 0x1f64f), (0x2000, 0x206f)])
            s.append(chr(rng.randint(*block)))
        rand.append("".join(s))
    out, seen = [], set()
    for s in base + rand:
        if s in seen or "\n__ggml_vocab_test__\n" in s:
            continue
        seen.add(s)
        out.append(s)
    return out
