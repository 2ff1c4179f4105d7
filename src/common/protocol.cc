#include "common/protocol.h"

#include <utility>

namespace leaseq::wire {

namespace {
Status DecodeFrames(std::vector<std::string>&& frames, Message* out, bool results_as_text);
}  // namespace

std::string_view CommandName(Command c) {
  const size_t i = static_cast<size_t>(c);
  return i < Messages().size() ? Messages()[i].name : "?";
}

std::optional<Command> CommandFromName(std::string_view name) {
  for (const MessageDecl& m : Messages()) {
    if (m.name == name) return m.command;
  }
  return std::nullopt;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> EncodeHead(const Message& m) {
  std::vector<std::string> frames;
  frames.reserve(3 + m.blobs.size());
  frames.emplace_back(kHeader);
  frames.emplace_back(CommandName(m.command));
  frames.push_back(m.body_text.empty() ? DumpJson(m.body) : m.body_text);
  return frames;
}

Message AsReceived(Message m) {
  if (!m.body_text.empty()) {
    m.body = nlohmann::json::parse(m.body_text, nullptr, /*allow_exceptions=*/false);
    m.body_text.clear();
  }
  return m;
}

std::vector<std::string> Encode(const Message& m) {
  std::vector<std::string> frames = EncodeHead(m);
  for (const auto& b : m.blobs) frames.push_back(b);
  return frames;
}

Status Decode(const std::vector<std::string>& frames, Message* out) {
  return Decode(std::vector<std::string>(frames), out);
}

Status Decode(std::vector<std::string>&& frames, Message* out) {
  return DecodeFrames(std::move(frames), out, /*results_as_text=*/false);
}

Status DecodeResultsAsText(std::vector<std::string>&& frames, Message* out) {
  return DecodeFrames(std::move(frames), out, /*results_as_text=*/true);
}

Status ParseBody(Command command, const std::string& text, nlohmann::json* body) {
  *body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body->is_discarded() || !body->is_object()) {
    *body = nlohmann::json::object();
    return Status::Invalid("malformed body of '" + std::string(CommandName(command)) +
                           "': not a JSON object");
  }
  return Status::Ok();
}

namespace {
Status DecodeFrames(std::vector<std::string>&& frames, Message* out, bool results_as_text) {
  if (frames.size() < 3) {
    return Status::Invalid("malformed message: " + std::to_string(frames.size()) +
                           " frames, expected at least 3 (header, command, body)");
  }
  if (frames.size() > 3 + kMaxBlobs) {
    return Status::Invalid("malformed message: too many frames (" +
                           std::to_string(frames.size()) + ")");
  }
  if (frames[0] != kHeader) {
    return Status::Invalid("unsupported protocol header (expected " + std::string(kHeader) + ")");
  }
  auto command = CommandFromName(frames[1]);
  if (!command) {
    return Status::Invalid("unknown command '" + frames[1].substr(0, 32) + "'");
  }
  out->command = *command;
  out->body_text.clear();
  if (results_as_text && *command == Command::kResults && !frames[2].empty()) {
    out->body = nlohmann::json::object();
    out->body_text = std::move(frames[2]);
  } else {
    Status parsed = ParseBody(*command, frames[2], &out->body);
    if (!parsed.ok()) return parsed;
  }
  out->blobs.assign(std::make_move_iterator(frames.begin() + 3),
                    std::make_move_iterator(frames.end()));
  return Status::Ok();
}
}  // namespace

Message Make(Command c, nlohmann::json body, std::vector<std::string> blobs) {
  Message m;
  m.command = c;
  m.body = std::move(body);
  m.blobs = std::move(blobs);
  return m;
}

Message MakeError(const std::string& message, const nlohmann::json& id) {
  nlohmann::json body = {{field::kMessage, message}};
  if (!id.is_null()) body[field::kId] = id;
  return Make(Command::kError, std::move(body));
}

Message MakeUnavailable(const std::string& message, const nlohmann::json& id) {
  Message m = MakeError(message, id);
  m.body[field::kUnavailable] = true;
  return m;
}

Message MakeNameRefusal(std::string_view code, const std::string& message) {
  Message m = MakeError(message);
  m.body[field::kCode] = std::string(code);
  return m;
}

Refusal RefusalOf(const nlohmann::json& error_body) {
  if (!error_body.is_object()) return Refusal::kRefused;
  auto unavailable = error_body.find(field::kUnavailable);
  if (unavailable != error_body.end() && *unavailable == true) return Refusal::kUnavailable;
  auto code = error_body.find(field::kCode);
  if (code != error_body.end() && code->is_string()) {
    if (*code == kNameInUse) return Refusal::kNameInUse;
    if (*code == kNameReserved) return Refusal::kNameReserved;
  }
  return Refusal::kRefused;
}

std::string ErrorMessage(const nlohmann::json& error_body, const std::string& fallback) {
  if (!error_body.is_object()) return fallback;
  auto it = error_body.find(field::kMessage);
  return it != error_body.end() && it->is_string() ? it->get<std::string>() : fallback;
}

Status GetInt(const nlohmann::json& body, const char* field, int64_t* out) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_number_integer()) {
    return Status::Invalid(std::string("field '") + field + "' must be an integer");
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status GetString(const nlohmann::json& body, const char* field, std::string* out) {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) {
    return Status::Invalid(std::string("field '") + field + "' must be a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetIntList(const nlohmann::json& body, const char* field, std::vector<int64_t>* out) {
  auto it = body.find(field);
  out->clear();
  if (it == body.end()) return Status::Ok();  // an absent list is empty
  if (!it->is_array()) return Status::Invalid(std::string("field '") + field + "' must be a list");
  for (const auto& v : *it) {
    if (!v.is_number_integer()) {
      return Status::Invalid(std::string("field '") + field + "' must hold integers");
    }
    out->push_back(v.get<int64_t>());
  }
  return Status::Ok();
}

Status GetStringList(const nlohmann::json& body, const char* field,
                     std::vector<std::string>* out) {
  auto it = body.find(field);
  out->clear();
  if (it == body.end()) return Status::Ok();
  if (!it->is_array()) return Status::Invalid(std::string("field '") + field + "' must be a list");
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return Status::Invalid(std::string("field '") + field + "' must hold strings");
    }
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace leaseq::wire
