// UTF-8 helpers and GPT-2's byte <-> code point mapping, shared by the
// tokenizers. All functions are pure and thread-safe; none of them fails on
// malformed input (invalid bytes are reported or replaced, never read past).
#ifndef TESSERA_MODEL_UNICODE_H_
#define TESSERA_MODEL_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tessera::model {

// The replacement character U+FFFD, UTF-8 encoded.
inline constexpr absl::string_view kReplacementChar = "\xEF\xBF\xBD";

// Length announced by the lead byte `lead`: 2, 3 or 4 for multi-byte lead
// bytes, 1 for ASCII and for every byte that cannot start a sequence. This is
// how the SentencePiece-style tokenizer cuts text into initial symbols.
int Utf8LeadLength(uint8_t lead);

// Classification of the character at the start of a byte string.
enum class Utf8Scan {
  kComplete,    // a valid, complete character of `length` bytes
  kIncomplete,  // a valid prefix of a character, cut short by the end
  kInvalid,     // `length` bytes (a lead byte and the continuation bytes
                // that fitted it, at least 1) that do not form a character
};
struct Utf8ScanResult {
  Utf8Scan kind;
  size_t length;
};
// Classifies the character at the start of `text`. REQUIRES: !text.empty().
// Rejects overlong forms, surrogates and code points above U+10FFFF.
Utf8ScanResult ScanUtf8(absl::string_view text);

// The largest n <= max_bytes such that text[n] (if any) is not a UTF-8
// continuation byte, i.e. a cut point that keeps characters whole; n is at
// least 1 for a non-empty text and max_bytes >= 1. Only a character's
// length is searched: where text[max_bytes - 3 .. max_bytes] are all
// continuation bytes (invalid UTF-8) the cut is max_bytes.
size_t Utf8CutPoint(absl::string_view text, size_t max_bytes);

// `text` with each invalid or truncated sequence replaced by U+FFFD.
std::string SanitizeUtf8(absl::string_view text);

// Appends the UTF-8 encoding of `cp` (REQUIRES: cp <= 0x10FFFF) to `out`.
void AppendUtf8(uint32_t cp, std::string* out);

// Decodes the character at `text[*pos]` and advances *pos past it. Invalid
// or truncated sequences yield U+FFFD and advance past the invalid unit.
// REQUIRES: *pos < text.size().
uint32_t DecodeUtf8(absl::string_view text, size_t* pos);

// True for the Unicode White_Space code points: U+0009..U+000D, U+0020,
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F
// and U+3000.
bool IsUnicodeWhitespace(uint32_t cp);

// GPT-2 byte-level mapping: every byte maps to a printable code point. Bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves; the remaining 68
// bytes map, in increasing byte order, to U+0100, U+0101, ... so that the
// space 0x20 becomes U+0120 'Ġ' and the newline 0x0A becomes U+010A 'Ċ'.
//
// ByteLevelEncode maps every byte of `bytes` (the result is valid UTF-8);
// AppendByteLevel appends the same to `out`.
std::string ByteLevelEncode(absl::string_view bytes);
void AppendByteLevel(absl::string_view bytes, std::string* out);
// Inverse of ByteLevelEncode. Code points outside the mapping (they never
// come out of ByteLevelEncode) are copied through as UTF-8, and invalid UTF-8
// as U+FFFD, so decoding never loses visible text.
std::string ByteLevelDecode(absl::string_view text);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_UNICODE_H_
