// Large sections: a 64 MiB .bss array touched sparsely and a 1 MiB .data array with scattered initializers.
#include <stdint.h>
#include <stdio.h>

#define BIG_BYTES (64u << 20)
static unsigned char big_bss[BIG_BYTES];          /* 64 MiB, zero-initialized */
uint64_t big_bss_tail[1024];                      /* another global after it */

#define DATA_WORDS (1u << 18)                     /* 262144 * 4 bytes = 1 MiB */
uint32_t big_data[DATA_WORDS] = {
    [0] = 0xdeadbeef, [1] = 1, [2] = 2, [4095] = 4095, [4096] = 0x1000,
    [100000] = 100000, [131071] = 0xabcdef, [200000] = 42, [DATA_WORDS - 1] = 0xfeedface,
};
static const char *big_data_labels[] = {"first", "middle", "last"};

int main(void) {
  /* Every page must read as zero before we write anything. */
  unsigned long nonzero = 0;
  for (uint32_t off = 0; off < BIG_BYTES; off += 4096) nonzero += big_bss[off] != 0;
  printf("bss pages nonzero before writes: %lu\n", nonzero);
  /* Touch one byte every 1 MiB plus the very last byte. */
  for (uint32_t off = 0; off < BIG_BYTES; off += 1u << 20) big_bss[off] = (unsigned char)(off >> 20);
  big_bss[BIG_BYTES - 1] = 0x5a;
  unsigned long sum = 0;
  for (uint32_t off = 0; off < BIG_BYTES; off += 1u << 20) sum += big_bss[off];
  printf("bss checksum=%lu last=0x%02x\n", sum, big_bss[BIG_BYTES - 1]);
  big_bss_tail[1023] = 77;
  printf("tail=%llu tail0=%llu\n", (unsigned long long)big_bss_tail[1023],
         (unsigned long long)big_bss_tail[0]);

  uint64_t dsum = 0;
  unsigned nz = 0;
  for (uint32_t i = 0; i < DATA_WORDS; i++) {
    dsum += big_data[i];
    nz += big_data[i] != 0;
  }
  printf("data nonzero=%u sum=%llu\n", nz, (unsigned long long)dsum);
  printf("%s=0x%08x %s=%u %s=0x%08x\n", big_data_labels[0], big_data[0], big_data_labels[1],
         big_data[100000], big_data_labels[2], big_data[DATA_WORDS - 1]);
  big_data[123456] = 9;
  printf("data write readback=%u\n", big_data[123456]);
  return 17;
}
