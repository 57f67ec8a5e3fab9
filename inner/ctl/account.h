// nightjarctl account: the operator's tool for the inner's accounts (add, passwd, reset, del,
// list, show, set, unset). It opens the inner's store (data_dir/store) directly; LMDB lets it do
// so while the daemon runs.
// Passwords are never taken from the command line (they would show in ps and shell history):
// from the terminal with echo off when stdin is a tty, otherwise one line each from stdin.
// Trust: run by the operator; the address and passwords are still validated like any input.
#pragma once

#include <cstdint>
#include <string>

#include "common/ctl/args.h"

namespace nj::ctl {

// What the command needs from the inner's configuration.
struct AccountTarget {
  std::string data_dir;
  std::string internal_domain;
  uint64_t max_size = 50ull << 20;  // mailbox.max_size
};

// The subcommand as nightjarctl's table calls it: parses --config FILE (the inner's YAML) or
// --data-dir DIR --domain DOMAIN, then runs the action.
int cmd_account(const Args& args);

// The action itself (pos: ACTION [ARGS]), against an explicit target; `yes` confirms a reset.
int run_account(const AccountTarget& target, const std::vector<std::string>& pos, bool yes);

}  // namespace nj::ctl
