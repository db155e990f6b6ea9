/*
 * fractals: renders a Julia set z -> z^2 + c as a greyscale PGM image.
 *
 * The "long-running" example of PiCaS, redone as a small C99 program: each token runs it with other
 * parameters, and bigger sizes or iteration counts make a token run as long as you like.
 *
 *   cc -O2 -std=c99 -o fractals fractals.c -lm
 *   ./fractals -o julia.pgm -s 800 -i 2000 -c -0.8,0.156
 *
 * Options:
 *   -o FILE    output image (PGM, viewable with most image viewers); required
 *   -s SIZE    width and height in pixels (default 400)
 *   -i ITER    maximum iterations per pixel (default 500): the main knob for the running time
 *   -c RE,IM   the constant c (default -0.8,0.156)
 *
 * On success it prints one line with the parameters and the image's mean brightness, and exits 0.
 * Bad arguments exit 2 with a message; an unwritable output file exits 1.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const char *why) {
    fprintf(stderr, "fractals: %s\nusage: fractals -o FILE [-s SIZE] [-i ITER] [-c RE,IM]\n", why);
    exit(2);
}

static long parse_long(const char *text, const char *what, long min, long max) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a whole number from %ld to %ld, got '%s'", what, min, max, text);
        usage(msg);
    }
    return value;
}

int main(int argc, char **argv) {
    const char *output = NULL;
    long size = 400;
    long max_iter = 500;
    double c_re = -0.8, c_im = 0.156;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc) usage("every option needs a value");
        const char *value = argv[++i];
        if (strcmp(opt, "-o") == 0) {
            output = value;
        } else if (strcmp(opt, "-s") == 0) {
            size = parse_long(value, "-s SIZE", 1, 20000);
        } else if (strcmp(opt, "-i") == 0) {
            max_iter = parse_long(value, "-i ITER", 1, 100000000);
        } else if (strcmp(opt, "-c") == 0) {
            char *end = NULL;
            c_re = strtod(value, &end);
            if (end == value || *end != ',') usage("-c must be RE,IM, e.g. -0.8,0.156");
            const char *im = end + 1;
            c_im = strtod(im, &end);
            if (end == im || *end != '\0') usage("-c must be RE,IM, e.g. -0.8,0.156");
        } else {
            usage("unknown option");
        }
    }
    if (output == NULL) usage("-o FILE is required");

    unsigned char *pixels = malloc((size_t)size * (size_t)size);
    if (pixels == NULL) {
        fprintf(stderr, "fractals: out of memory for a %ldx%ld image\n", size, size);
        return 1;
    }
    double total = 0;
    for (long y = 0; y < size; y++) {
        for (long x = 0; x < size; x++) {
            /* the square [-1.6, 1.6] x [-1.6, 1.6] of the complex plane */
            double zr = -1.6 + 3.2 * (double)x / (double)size;
            double zi = -1.6 + 3.2 * (double)y / (double)size;
            long n = 0;
            while (n < max_iter && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + c_re;
                zi = 2.0 * zr * zi + c_im;
                zr = t;
                n++;
            }
            /* smooth grey: points that never escape are white */
            unsigned char grey = (unsigned char)(n >= max_iter ? 255 : (255.0 * sqrt((double)n / (double)max_iter)));
            pixels[y * size + x] = grey;
            total += grey;
        }
    }

    FILE *f = fopen(output, "wb");
    if (f == NULL) {
        fprintf(stderr, "fractals: cannot write %s: %s\n", output, strerror(errno));
        free(pixels);
        return 1;
    }
    fprintf(f, "P5\n%ld %ld\n255\n", size, size);
    size_t written = fwrite(pixels, 1, (size_t)size * (size_t)size, f);
    int closed = fclose(f);
    free(pixels);
    if (written != (size_t)size * (size_t)size || closed != 0) {
        fprintf(stderr, "fractals: writing %s failed\n", output);
        return 1;
    }
    printf("fractals: c=%g,%g size=%ld iterations=%ld mean=%.2f wrote %s\n", c_re, c_im, size, max_iter, total / ((double)size * (double)size), output);
    return 0;
}
