#include "common/wire_batch.h"

#include <string>

namespace leaseq::wire {

namespace {

// The list field of each batch command.
const char* ListFieldOf(Command batch) {
  return batch == Command::kTasks ? field::kTasks : field::kResults;
}

}  // namespace

std::optional<Command> ItemCommandOf(Command batch) {
  switch (batch) {
    case Command::kTasks: return Command::kTask;
    case Command::kResults: return Command::kResult;
    default: return std::nullopt;
  }
}

std::optional<Command> BatchCommandOf(Command single) {
  switch (single) {
    case Command::kTask: return Command::kTasks;
    case Command::kResult: return Command::kResults;
    default: return std::nullopt;
  }
}

std::vector<PackedFrame> Pack(std::vector<Message> singles) {
  std::vector<PackedFrame> frames;
  size_t i = 0;
  while (i < singles.size()) {
    // How many go into this frame: at least one, whatever its size.
    size_t n = 0, bytes = 0;
    while (i + n < singles.size() && n < kMaxBatchItems) {
      const Message& m = singles[i + n];
      const size_t size = m.blobs.empty() ? 0 : m.blobs[0].size();
      if (n > 0 && bytes + size > kMaxBatchBlobBytes) break;
      bytes += size;
      ++n;
    }
    const std::optional<Command> batch = BatchCommandOf(singles[i].command);
    if (n == 1 || !batch) {
      for (size_t k = 0; k < n; ++k) frames.push_back({std::move(singles[i + k]), i + k, 1});
      i += n;
      continue;
    }
    Message frame;
    frame.command = *batch;
    // Bodies written as text (body_text) are joined as text; if any item
    // has a json body, all go into a json array.
    bool all_text = true;
    for (size_t k = 0; k < n; ++k) all_text = all_text && !singles[i + k].body_text.empty();
    nlohmann::json items = nlohmann::json::array();
    if (all_text) {
      frame.body_text = std::string("{\"") + ListFieldOf(*batch) + "\":[";
    }
    size_t last_blob = 0;  // one past the last non-empty blob
    for (size_t k = 0; k < n; ++k) {
      Message& m = singles[i + k];
      if (all_text) {
        if (k > 0) frame.body_text.push_back(',');
        frame.body_text.append(m.body_text);
      } else {
        items.push_back(m.body_text.empty() ? std::move(m.body)
                                            : nlohmann::json::parse(m.body_text, nullptr, false));
      }
      frame.blobs.push_back(m.blobs.empty() ? std::string() : std::move(m.blobs[0]));
      if (!frame.blobs.back().empty()) last_blob = k + 1;
    }
    frame.blobs.resize(last_blob);
    if (all_text) {
      frame.body_text.append("]}");
    } else {
      frame.body = nlohmann::json::object();
      frame.body[ListFieldOf(*batch)] = std::move(items);
    }
    frames.push_back({std::move(frame), i, n});
    i += n;
  }
  return frames;
}

Status Unpack(Message batch, std::vector<Message>* singles) {
  singles->clear();
  const std::optional<Command> item = ItemCommandOf(batch.command);
  if (!item) return Status::Invalid(std::string(CommandName(batch.command)) + " is not a batch");
  const char* list_field = ListFieldOf(batch.command);
  auto list = batch.body.find(list_field);
  if (list == batch.body.end() || !list->is_array()) {
    return Status::Invalid(std::string(CommandName(batch.command)) + ": field '" + list_field +
                           "' must be a list");
  }
  if (batch.blobs.size() > list->size()) {
    return Status::Invalid(std::string(CommandName(batch.command)) + ": " +
                           std::to_string(batch.blobs.size()) + " blobs for " +
                           std::to_string(list->size()) + " item(s): at most one each");
  }
  singles->reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    Message m;
    m.command = *item;
    m.body = std::move((*list)[i]);
    if (i < batch.blobs.size()) m.blobs.push_back(std::move(batch.blobs[i]));
    singles->push_back(std::move(m));
  }
  return Status::Ok();
}

}  // namespace leaseq::wire
