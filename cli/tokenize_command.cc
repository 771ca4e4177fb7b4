// `tessera tokenize`: prints the token ids of a text as a JSON array.
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/args.h"
#include "cli/command.h"
#include "common/status_macros.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace tessera::cli {
namespace {

absl::Status Tokenize(const ArgParser& args) {
  // Vocabulary-only files have no weights: read the tokenizer alone.
  TESSERA_ASSIGN_OR_RETURN(auto gguf,
                           model::GgufFile::Open(args.GetString("model")));
  TESSERA_ASSIGN_OR_RETURN(auto tokenizer, model::Tokenizer::FromGguf(*gguf));
  std::vector<int32_t> ids =
      tokenizer->Encode(args.GetString("text"), args.GetBool("bos"),
                        /*add_eos=*/false, args.GetBool("special"));
  std::cout << "[" << absl::StrJoin(ids, ", ") << "]\n";
  return absl::OkStatus();
}

int TokenizeMain(const std::vector<std::string>& argv) {
  ArgParser args("tessera tokenize --model PATH --text TEXT [--bos]");
  args.String("model", "", "GGUF model or vocabulary file").Required("model");
  args.String("text", "", "text to tokenize").Required("text");
  args.Bool("bos", false, "prepend the BOS token");
  args.Bool("special", false, "map special-token text to special tokens");
  return RunParsed(args, argv, "tessera tokenize", Tokenize);
}

}  // namespace

TESSERA_REGISTER_COMMAND(tokenize, "print the token ids of a text",
                         TokenizeMain);

}  // namespace tessera::cli
