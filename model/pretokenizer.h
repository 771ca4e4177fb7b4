// Pre-tokenizers of byte-level BPE vocabularies: they cut text into words
// with Unicode-class regular expressions before BPE merges run inside each
// word. The GGUF key `tokenizer.ggml.pre` names the rule set.
//
// A rule set is a list of regexes applied in turn: each one splits every
// piece produced so far into its matches and the unmatched gaps between
// them (gaps are kept as pieces), so no byte is ever dropped. Matching is
// leftmost-first as in a backtracking engine. The expressions are compiled
// with RE2, which has \p{L}/\p{N}/\p{P} but no lookahead: the `\s+(?!\S)`
// alternative is matched as `(\s+)` and, when followed by a non-space,
// shortened by its last character, which is exactly what the lookahead does.
// `\s` means Unicode White_Space (RE2's own \s is ASCII only and lacks \v).
//
// PreTokenizer is immutable after Create and safe for concurrent use.
#ifndef TESSERA_MODEL_PRETOKENIZER_H_
#define TESSERA_MODEL_PRETOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace tessera::model {

enum class PreTokenizerType {
  kDefault,        // absent or "default"
  kGpt2,           // gpt-2, phi-2, mpt, olmo, roberta-bpe, ...
  kLlama3,         // llama-bpe (Llama 3), dbrx, smaug-bpe: digits in 1..3
  kQwen2,          // qwen2, stablelm2: like Llama 3 but single digits
  kStarcoder,      // starcoder, smollm, refact, command-r: single digits
  kFalcon,         // falcon: punctuation runs, then GPT-2, then 3 digits
  kDeepseekCoder,  // deepseek-coder
};

// What a `tokenizer.ggml.pre` name implies.
struct PreTokenizerConfig {
  PreTokenizerType type = PreTokenizerType::kDefault;
  // Llama 3 style: a word that is already a token skips the merges.
  bool ignore_merges = false;
  // Llama 3 style vocabularies add BOS unless the file says otherwise.
  bool add_bos = false;
};

// Maps a `tokenizer.ggml.pre` value ("" means absent). InvalidArgument for
// names this library does not implement.
absl::StatusOr<PreTokenizerConfig> PreTokenizerConfigFromName(
    absl::string_view name);

class PreTokenizer {
 public:
  // Compiles the rule set of `type`. Internal on a regex that fails to
  // compile (a bug, reported rather than crashing).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(
      PreTokenizerType type);
  ~PreTokenizer();

  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits `text` into non-empty pieces whose concatenation is `text`. The
  // views point into `text`. Invalid UTF-8 bytes match no class and end up
  // in gap pieces, never dropped.
  std::vector<absl::string_view> Split(absl::string_view text) const;

 private:
  struct Rule {
    std::unique_ptr<re2::RE2> re;
    bool has_space_lookahead = false;  // group 1 is the `\s+(?!\S)` part
  };

  PreTokenizer() = default;
  void SplitPiece(const Rule& rule, absl::string_view piece,
                  std::vector<absl::string_view>* out) const;
  // The end of the match [start, end) once `(?!\S)` is applied.
  size_t ApplySpaceLookahead(const Rule& rule, absl::string_view piece,
                             size_t start, size_t end) const;

  std::vector<Rule> rules_;
};

// Rewrites a pattern written with `\s` and `\s+(?!\S)` into RE2 syntax as
// described above. Exposed for tests. REQUIRES: the pattern has no other
// capturing group.
std::string TranslatePattern(absl::string_view pattern);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_PRETOKENIZER_H_
