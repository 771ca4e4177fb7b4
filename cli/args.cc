#include "cli/args.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace tessera::cli {

ArgParser& ArgParser::Declare(const std::string& name, Kind kind,
                              std::string value, std::string help,
                              const std::string& short_name) {
  CHECK(flags_.count(name) == 0) << "flag declared twice: " << name;
  Flag flag;
  flag.kind = kind;
  flag.help = std::move(help);
  flag.value = std::move(value);
  if (kind == Kind::kInt) CHECK(absl::SimpleAtoi(flag.value, &flag.int_value));
  if (kind == Kind::kFloat) {
    CHECK(absl::SimpleAtod(flag.value, &flag.float_value));
  }
  flags_[name] = std::move(flag);
  order_.push_back(name);
  if (!short_name.empty()) short_names_[short_name] = name;
  return *this;
}

ArgParser& ArgParser::String(const std::string& name, std::string def,
                             std::string help, const std::string& short_name) {
  return Declare(name, Kind::kString, std::move(def), std::move(help),
                 short_name);
}

ArgParser& ArgParser::Int(const std::string& name, int64_t def,
                          std::string help, const std::string& short_name) {
  return Declare(name, Kind::kInt, absl::StrCat(def), std::move(help),
                 short_name);
}

ArgParser& ArgParser::Float(const std::string& name, double def,
                            std::string help, const std::string& short_name) {
  return Declare(name, Kind::kFloat, absl::StrCat(def), std::move(help),
                 short_name);
}

ArgParser& ArgParser::Bool(const std::string& name, bool def,
                           std::string help) {
  return Declare(name, Kind::kBool, def ? "true" : "false", std::move(help),
                 "");
}

ArgParser& ArgParser::Required(const std::string& name) {
  CHECK(flags_.count(name) == 1) << "undeclared flag: " << name;
  flags_[name].required = true;
  return *this;
}

absl::Status ArgParser::SetValue(const std::string& name, Flag& flag,
                                 const std::string& value) {
  switch (flag.kind) {
    case Kind::kInt:
      if (!absl::SimpleAtoi(value, &flag.int_value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " expects an integer, got '", value, "'"));
      }
      break;
    case Kind::kFloat:
      if (!absl::SimpleAtod(value, &flag.float_value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " expects a number, got '", value, "'"));
      }
      break;
    case Kind::kBool:
      if (value != "true" && value != "false" && value != "1" &&
          value != "0") {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", name, " expects true or false, got '", value, "'"));
      }
      break;
    case Kind::kString:
      break;
  }
  flag.value = (flag.kind == Kind::kBool)
                   ? ((value == "true" || value == "1") ? "true" : "false")
                   : value;
  flag.given = true;
  return absl::OkStatus();
}

absl::Status ArgParser::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(Help());
    std::string name;
    std::string value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      name = arg.substr(2);
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
    } else if (arg.size() > 1 && arg[0] == '-' && short_names_.count(arg.substr(1))) {
      name = short_names_[arg.substr(1)];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "'"));
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    Flag& flag = it->second;
    if (!has_value) {
      if (flag.kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
    }
    absl::Status status = SetValue(name, flag, value);
    if (!status.ok()) return status;
  }
  for (const auto& [name, flag] : flags_) {
    if (flag.required && !flag.given) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing required flag --", name));
    }
  }
  return absl::OkStatus();
}

const std::string& ArgParser::GetString(const std::string& name) const {
  auto it = flags_.find(name);
  CHECK(it != flags_.end() && it->second.kind == Kind::kString) << name;
  return it->second.value;
}

int64_t ArgParser::GetInt(const std::string& name) const {
  auto it = flags_.find(name);
  CHECK(it != flags_.end() && it->second.kind == Kind::kInt) << name;
  return it->second.int_value;
}

double ArgParser::GetFloat(const std::string& name) const {
  auto it = flags_.find(name);
  CHECK(it != flags_.end() && it->second.kind == Kind::kFloat) << name;
  return it->second.float_value;
}

bool ArgParser::GetBool(const std::string& name) const {
  auto it = flags_.find(name);
  CHECK(it != flags_.end() && it->second.kind == Kind::kBool) << name;
  return it->second.value == "true";
}

bool ArgParser::Has(const std::string& name) const {
  auto it = flags_.find(name);
  return it != flags_.end() && it->second.given;
}

std::string ArgParser::Help() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\nflags:\n");
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    std::string short_alias;
    for (const auto& [s, n] : short_names_) {
      if (n == name) short_alias = absl::StrCat(", -", s);
    }
    absl::StrAppendFormat(&out, "  --%-22s %s%s\n", name + short_alias,
                          flag.help,
                          flag.required ? " (required)"
                                        : absl::StrCat(" (default: ",
                                                       flag.value, ")"));
  }
  return out;
}

bool ParseOrExit(ArgParser& parser, const std::vector<std::string>& args,
                 int& exit_code) {
  absl::Status status = parser.Parse(args);
  if (status.ok()) return true;
  if (absl::IsCancelled(status)) {
    std::cout << status.message();
    exit_code = 0;
    return false;
  }
  std::cerr << "tessera: " << status.message() << " (see --help)\n";
  exit_code = 2;
  return false;
}

int RunParsed(ArgParser& parser, const std::vector<std::string>& args,
              const std::string& name,
              const std::function<absl::Status(const ArgParser&)>& body) {
  int exit_code = 0;
  if (!ParseOrExit(parser, args, exit_code)) return exit_code;
  absl::Status status = body(parser);
  if (!status.ok()) {
    std::cerr << name << ": " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace tessera::cli
