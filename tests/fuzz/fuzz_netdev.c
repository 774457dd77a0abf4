/*
 * fuzz_netdev.c - libFuzzer harness for the -netdev option parser
 * (hostnet_check in src/host/hostnet.c): user (hostfwd rules, addresses,
 * prefixes) and socket options. The input is the option string after its
 * first byte, which chooses whether remote addresses are allowed. The
 * parser must accept or refuse with one printable line, and never touch
 * memory it does not own; it opens nothing (only hostnet_new does).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/hostnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *spec = malloc(size);
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = 0;
    char err[512] = "";
    if (!hostnet_check(spec, data[0] & 1, err, sizeof err)) {
        size_t n = strlen(err);
        assert(n > 0 && n < sizeof err);
        for (size_t i = 0; i < n; i++)
            assert(err[i] != '\n');
    }
    free(spec);
    return 0;
}

#ifdef FUZZ_SEED_GENERATOR
#include <stdio.h>
/* A few well-formed option strings as the seed corpus. */
int main(int argc, char **argv)
{
    static const char *seeds[] = {
        "\001user",
        "\000user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp::5555-10.0.2.15:5555",
        "\000user,net=192.168.76.0/24,host=192.168.76.2,dns=192.168.76.3,dhcpstart=192.168.76.9",
        "\000user,restrict=on,hostname=guest,ipv6=off",
        "\000socket,listen=127.0.0.1:5555",
        "\001socket,connect=10.1.2.3:5555",
        "\000socket,udp=127.0.0.1:5555,localaddr=127.0.0.1:5556",
        "\000tap,ifname=tap0",
    };
    if (argc < 2)
        return 2;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/seed%zu", argv[1], i);
        FILE *f = fopen(path, "wb");
        if (!f)
            return 1;
        fwrite(seeds[i], 1, 1 + strlen(seeds[i] + 1), f);
        fclose(f);
    }
    return 0;
}
#endif
