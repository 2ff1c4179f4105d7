// Batched frames: `tasks` (broker -> worker) and `results` (worker ->
// broker) carry the bodies of several `task` / `result` messages in one
// frame, so that a pass that leases eight tasks to a worker, or a worker
// step that finishes eight of them, costs one send, one receive and one
// JSON parse instead of eight. Blobs are positional: blob i belongs to item
// i; trailing empty blobs are left out (a noop task has no stdin).
//
// Pack turns single messages into as few frames as the limits allow (at
// most kMaxBatchItems items, at most kMaxBatchBlobBytes of blobs unless one
// item alone is larger; a frame of one item is sent as the single form). Unpack turns a batch frame back into
// the single messages it carries: each is then validated and handled as if
// it had come alone (wire::CheckBody of the single command), so one bad
// item does not take the others with it. Unpack itself refuses only a frame
// whose shape is wrong (more blobs than items): nothing of it may be used.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/protocol.h"

namespace leaseq::wire {

// A batch frame has one blob frame per item at most (protocol.h's limit).
inline constexpr size_t kMaxBatchItems = kMaxBlobs;
// An item whose blob would take a frame's blobs past this size starts the
// next frame: large stdins and outputs travel alone, far below
// ZMQ_MAXMSGSIZE.
inline constexpr size_t kMaxBatchBlobBytes = size_t{1} << 20;

// The single command a batch command carries (kTasks -> kTask, kResults ->
// kResult), and the other way; nullopt for the rest.
std::optional<Command> ItemCommandOf(Command batch);
std::optional<Command> BatchCommandOf(Command single);

// One frame made by Pack: the message and which of the singles it carries
// (singles[first, first + count)).
struct PackedFrame {
  Message message;
  size_t first = 0;
  size_t count = 0;
};

// Packs singles (all of the same batchable command, in order) into frames.
// A frame of one item is the single message itself.
std::vector<PackedFrame> Pack(std::vector<Message> singles);

// The single messages of a batch frame (its body already checked against
// the batch command's declaration), in order. Their bodies are not checked.
// Takes the frame by value: a caller done with it moves it in.
Status Unpack(Message batch, std::vector<Message>* singles);

}  // namespace leaseq::wire
