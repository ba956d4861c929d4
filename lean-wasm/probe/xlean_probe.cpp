// xlean-probe: checks a linked wasm64 module from the inside, driven by command-line words.
//
//   lookup:NAME          prints `lookup NAME <address>` or `lookup NAME null`
//   call2:NAME:A:B       calls NAME as uint64_t(uint64_t, uint64_t), prints `call2 NAME <result>`
//   read:PATH            prints `read PATH <size> <fnv1a-64 of the bytes>` or `read PATH missing`
//   pow:B:E              B^E with the runtime's GMP (mini-gmp), prints `pow B E <decimal> <limb bits>`
//
// It only uses what the build generated (the symbol table) and embedded (the .olean tree), so a
// test can compare every answer with what it computes outside the module.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" void* wasm_lookup_symbol(const char* name);

#include <gmp.h>  // the runtime's: stubs/gmp.h over mini-gmp

// B^E through the mpz API the Lean runtime's bignums use; the limb size is what must match the
// official (x86_64, GMP-built) .olean files.
static void gmp_pow(unsigned long base, unsigned long exp) {
  mpz_t r;
  mpz_init(r);
  mpz_ui_pow_ui(r, base, exp);
  char* text = mpz_get_str(nullptr, 10, r);
  std::printf("pow %lu %lu %s %zu\n", base, exp, text, sizeof(mp_limb_t) * 8);
  std::free(text);
  mpz_clear(r);
}

static uint64_t fnv1a64(const unsigned char* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= data[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::printf("read %s missing\n", path.c_str());
    return 1;
  }
  std::string bytes;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  std::fclose(f);
  std::printf("read %s %zu %016" PRIx64 "\n", path.c_str(), bytes.size(),
              fnv1a64(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
  return 0;
}

int main(int argc, char** argv) {
  int failures = 0;
  for (int i = 1; i < argc; i++) {
    std::string word = argv[i];
    if (word.rfind("pow:", 0) == 0) {
      unsigned long base = 0, exp = 0;
      if (std::sscanf(word.c_str() + 4, "%lu:%lu", &base, &exp) != 2) {
        std::printf("bad word %s\n", word.c_str());
        failures++;
        continue;
      }
      gmp_pow(base, exp);
    } else if (word.rfind("lookup:", 0) == 0) {
      std::string name = word.substr(7);
      void* p = wasm_lookup_symbol(name.c_str());
      if (p)
        std::printf("lookup %s %" PRIuPTR "\n", name.c_str(), reinterpret_cast<uintptr_t>(p));
      else
        std::printf("lookup %s null\n", name.c_str());
    } else if (word.rfind("call2:", 0) == 0) {
      // call2:NAME:A:B
      std::string rest = word.substr(6);
      size_t c1 = rest.find(':'), c2 = rest.rfind(':');
      if (c1 == std::string::npos || c1 == c2) {
        std::printf("bad word %s\n", word.c_str());
        failures++;
        continue;
      }
      std::string name = rest.substr(0, c1);
      uint64_t a = std::strtoull(rest.substr(c1 + 1, c2 - c1 - 1).c_str(), nullptr, 10);
      uint64_t b = std::strtoull(rest.substr(c2 + 1).c_str(), nullptr, 10);
      void* p = wasm_lookup_symbol(name.c_str());
      if (!p) {
        std::printf("call2 %s null\n", name.c_str());
        failures++;
        continue;
      }
      auto f = reinterpret_cast<uint64_t (*)(uint64_t, uint64_t)>(p);
      std::printf("call2 %s %" PRIu64 "\n", name.c_str(), f(a, b));
    } else if (word.rfind("read:", 0) == 0) {
      failures += read_file(word.substr(5));
    } else {
      std::printf("bad word %s\n", word.c_str());
      failures++;
    }
  }
  return failures == 0 ? 0 : 1;
}
