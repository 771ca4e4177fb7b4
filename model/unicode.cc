#include "model/unicode.h"

#include <array>

namespace tessera::model {
namespace {

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Byte -> mapped code point and the inverse (code point -> byte, -1 if none).
// Mapped code points are all below 0x144.
struct ByteMap {
  std::array<uint16_t, 256> to_cp;
  std::array<int16_t, 0x144> to_byte;

  ByteMap() {
    to_byte.fill(-1);
    int next_extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? b : 0x100 + next_extra++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& GetByteMap() {
  static const ByteMap* map = new ByteMap();
  return *map;
}

}  // namespace

int Utf8LeadLength(uint8_t lead) {
  if (lead < 0xC0) return 1;  // ASCII or a stray continuation byte
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 1;
}

Utf8ScanResult ScanUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t lead = s[0];
  if (lead < 0x80) return {Utf8Scan::kComplete, 1};
  if (lead < 0xC2 || lead > 0xF4) return {Utf8Scan::kInvalid, 1};
  const size_t need = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  // Valid range of the second byte excludes overlongs, surrogates and code
  // points above U+10FFFF (the Unicode "well-formed" table).
  uint8_t lo = 0x80, hi = 0xBF;
  if (lead == 0xE0) lo = 0xA0;
  if (lead == 0xED) hi = 0x9F;
  if (lead == 0xF0) lo = 0x90;
  if (lead == 0xF4) hi = 0x8F;
  for (size_t i = 1; i < need; ++i) {
    if (i >= text.size()) return {Utf8Scan::kIncomplete, i};
    const uint8_t b = s[i];
    const bool ok = i == 1 ? (b >= lo && b <= hi) : IsContinuation(b);
    // Report the maximal valid prefix as one invalid unit, so a truncated
    // character becomes a single U+FFFD (as in the WHATWG decoder).
    if (!ok) return {Utf8Scan::kInvalid, i};
  }
  return {Utf8Scan::kComplete, need};
}

size_t Utf8CutPoint(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  // A character is at most four bytes: look back at most three.
  const size_t floor = max_bytes > 3 ? max_bytes - 3 : 1;
  size_t end = max_bytes;
  while (end > floor && IsContinuation(static_cast<uint8_t>(text[end]))) --end;
  return IsContinuation(static_cast<uint8_t>(text[end])) ? max_bytes : end;
}

std::string SanitizeUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8ScanResult r = ScanUtf8(text.substr(pos));
    if (r.kind == Utf8Scan::kComplete) {
      out.append(text.data() + pos, r.length);
      pos += r.length;
    } else {
      out.append(kReplacementChar.data(), kReplacementChar.size());
      pos += r.length;
    }
  }
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t DecodeUtf8(absl::string_view text, size_t* pos) {
  const Utf8ScanResult r = ScanUtf8(text.substr(*pos));
  if (r.kind != Utf8Scan::kComplete) {
    *pos += r.length;
    return 0xFFFD;
  }
  const auto* s = reinterpret_cast<const uint8_t*>(text.data() + *pos);
  *pos += r.length;
  switch (r.length) {
    case 1:
      return s[0];
    case 2:
      return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    case 3:
      return ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    default:
      return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) |
             ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
  }
}

bool IsUnicodeWhitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string ByteLevelEncode(absl::string_view bytes) {
  std::string out;
  AppendByteLevel(bytes, &out);
  return out;
}

void AppendByteLevel(absl::string_view bytes, std::string* out) {
  const ByteMap& map = GetByteMap();
  out->reserve(out->size() + bytes.size() * 2);
  for (const char c : bytes) {
    AppendUtf8(map.to_cp[static_cast<uint8_t>(c)], out);
  }
}

std::string ByteLevelDecode(absl::string_view text) {
  const ByteMap& map = GetByteMap();
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const uint32_t cp = DecodeUtf8(text, &pos);
    if (cp < map.to_byte.size() && map.to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(map.to_byte[cp]));
    } else {
      AppendUtf8(cp, &out);
    }
  }
  return out;
}

}  // namespace tessera::model
