// Reading protocol buffers written in text format (configs/*.textproto,
// cached profiles). Errors say where: "PATH:LINE:COL: message" for text
// that does not parse (unknown fields included), NotFound when the file
// cannot be read.
//
// Thread-safety: pure functions.
#ifndef TESSERA_COMMON_TEXT_PROTO_H_
#define TESSERA_COMMON_TEXT_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace tessera {

// Parses `text` into `out` (cleared first). `where` names the text in
// errors, usually its path. InvalidArgument on the first parse error.
absl::Status ParseTextProto(const std::string& text, const std::string& where,
                            google::protobuf::Message* out);

// Reads `path` and parses it as above.
absl::Status ReadTextProtoFile(const std::string& path,
                               google::protobuf::Message* out);

}  // namespace tessera

#endif  // TESSERA_COMMON_TEXT_PROTO_H_
