#include "common/text_proto.h"

#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace tessera {
namespace {

// Keeps the first error only: later ones are usually its consequences.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::Status ParseTextProto(const std::string& text, const std::string& where,
                            google::protobuf::Message* out) {
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, out)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ":", errors.first()));
  }
  return absl::OkStatus();
}

absl::Status ReadTextProtoFile(const std::string& path,
                               google::protobuf::Message* out) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseTextProto(*text, path, out);
}

}  // namespace tessera
