// A small, strict flag parser for subcommands: every flag is declared with
// its type, default and help; unknown flags, missing values and values that
// do not parse are errors naming the flag. Accepts `--name value`,
// `--name=value`, `-n value` for declared short aliases, and `--flag` for
// booleans. Not thread-safe (used once per process).
#ifndef TESSERA_CLI_ARGS_H_
#define TESSERA_CLI_ARGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tessera::cli {

class ArgParser {
 public:
  // `usage` is the first line of the help text, e.g.
  // "tessera run --model PATH --prompt TEXT [-n N]".
  explicit ArgParser(std::string usage) : usage_(std::move(usage)) {}

  // Declarations; `short_name` may be empty. Returns *this for chaining.
  ArgParser& String(const std::string& name, std::string default_value,
                    std::string help, const std::string& short_name = "");
  ArgParser& Int(const std::string& name, int64_t default_value,
                 std::string help, const std::string& short_name = "");
  ArgParser& Float(const std::string& name, double default_value,
                   std::string help, const std::string& short_name = "");
  ArgParser& Bool(const std::string& name, bool default_value,
                  std::string help);
  // Marks a declared flag as required.
  ArgParser& Required(const std::string& name);

  // Parses `args`. InvalidArgument naming the flag on any error. `--help`
  // yields a Cancelled status whose message is the help text.
  absl::Status Parse(const std::vector<std::string>& args);

  // Typed access. REQUIRES: the flag was declared with that type.
  const std::string& GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  double GetFloat(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // True if the flag was given on the command line.
  bool Has(const std::string& name) const;

  std::string Help() const;

 private:
  enum class Kind { kString, kInt, kFloat, kBool };
  struct Flag {
    Kind kind;
    std::string value;  // textual; parsed at Parse time
    std::string help;
    bool required = false;
    bool given = false;
    int64_t int_value = 0;
    double float_value = 0;
  };
  ArgParser& Declare(const std::string& name, Kind kind, std::string value,
                     std::string help, const std::string& short_name);
  absl::Status SetValue(const std::string& name, Flag& flag,
                        const std::string& value);

  std::string usage_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> short_names_;
};

// Runs `parser.Parse(args)`; on --help prints the help to stdout and returns
// 0 through `exit_code`, on error prints "tessera: <message>" plus a hint and
// returns 2. Returns true when the command should go on.
bool ParseOrExit(ArgParser& parser, const std::vector<std::string>& args,
                 int& exit_code);

// The shape of every command's main: parses `args` into `parser`
// (ParseOrExit), runs `body`, and returns the exit status: 0 on success, 2
// for usage errors, 1 when `body` fails (its message printed to stderr as
// "<name>: <message>", one line).
int RunParsed(ArgParser& parser, const std::vector<std::string>& args,
              const std::string& name,
              const std::function<absl::Status(const ArgParser&)>& body);

}  // namespace tessera::cli

#endif  // TESSERA_CLI_ARGS_H_
