// OpenDKIM's header for C++: it declares functions with C's _Bool, which C++ spells bool (the
// same type and ABI on every platform Debian builds for).
#pragma once

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
