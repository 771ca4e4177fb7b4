// A small built-in SentencePiece-style vocabulary (control tokens, the 256
// byte-fallback tokens, "▁" + printable ASCII words), for synthetic models
// on machines without any vocabulary file.
#ifndef TESSERA_MODEL_BUILTIN_VOCAB_H_
#define TESSERA_MODEL_BUILTIN_VOCAB_H_

#include <string>

#include "absl/status/statusor.h"

namespace tessera::model {

// A vocabulary-only GGUF file (no tensors), as bytes: tokenizer.ggml.model
// "llama", <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF>, then pieces.
absl::StatusOr<std::string> BuiltinVocabularyGguf();

}  // namespace tessera::model

#endif  // TESSERA_MODEL_BUILTIN_VOCAB_H_
