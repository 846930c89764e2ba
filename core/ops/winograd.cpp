// Winograd F(2x2, 3x3): the transforms and the 16 products (the math is in winograd.h).
//
// The input and output transforms run on a whole row of tiles at a time, so that each loop
// runs over the tiles tx of that row (contiguous, vectorized by the compiler), where a loop
// over the 16 values of one tile would scatter every value to another matrix.
#include "core/ops/winograd.h"

#include <algorithm>

namespace bnlab::detail {

namespace {

// u = G g G^T for a 3x3 kernel g: G's rows take g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2, first
// down the columns of g, then along the rows of the result.
void kernel_transform(const float g[3][3], float u[4][4]) {
    float gg[4][3];
    for (int j = 0; j < 3; ++j) {
        gg[0][j] = g[0][j];
        gg[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
        gg[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
        gg[3][j] = g[2][j];
    }
    for (int i = 0; i < 4; ++i) {
        u[i][0] = gg[i][0];
        u[i][1] = 0.5f * (gg[i][0] + gg[i][1] + gg[i][2]);
        u[i][2] = 0.5f * (gg[i][0] - gg[i][1] + gg[i][2]);
        u[i][3] = gg[i][2];
    }
}

// One input row h, split for a row of tiles: even[k] = row[2k], odd[k] = row[2k+1] for
// k = 0..tw, where row[q] = x[h][q - pad] (0 outside the image). Tile tx reads row[2tx .. 2tx+3]
// = even[tx], odd[tx], even[tx+1], odd[tx+1].
void split_row(const float* xc, int64_t h, int64_t H, int64_t W, int64_t pad, int64_t tw, float* even, float* odd,
               float* padded) {
    if (h < 0 || h >= H) {
        std::fill_n(even, tw + 1, 0.0f);
        std::fill_n(odd, tw + 1, 0.0f);
        return;
    }
    // padded[q] = row[q], q = 0 .. 2tw + 1
    const int64_t length = 2 * tw + 2, inside = std::min(W, length - pad);
    std::fill_n(padded, pad, 0.0f);
    std::copy_n(xc + h * W, inside, padded + pad);
    std::fill(padded + pad + inside, padded + length, 0.0f);
    for (int64_t k = 0; k <= tw; ++k) {
        even[k] = padded[2 * k];
        odd[k] = padded[2 * k + 1];
    }
}

// The three loops below take their rows as __restrict parameters: the rows never overlap,
// and saying so lets the compiler vectorize the loops over tx.

// One 4-point transform B^T (d0-d2, d1+d2, d2-d1, d1-d3) for every tile tx of a row, with
// d_j the j-th of (a, b, c, d) shifted: d0 = a[tx], d1 = b[tx], d2 = c[tx], d3 = d[tx].
void transform_4(const float* __restrict a, const float* __restrict b, const float* __restrict c,
                 const float* __restrict d, float* __restrict out0, float* __restrict out1, float* __restrict out2,
                 float* __restrict out3, int64_t tw) {
    for (int64_t tx = 0; tx < tw; ++tx) {
        out0[tx] = a[tx] - c[tx];
        out1[tx] = b[tx] + c[tx];
        out2[tx] = c[tx] - b[tx];
        out3[tx] = b[tx] - d[tx];
    }
}

// A's 2-to-4 transform (y0, y0+y1, y0-y1, -y1) for every tile tx, y0 = a[tx], y1 = b[tx].
void transform_2(const float* __restrict a, const float* __restrict b, float* __restrict out0,
                 float* __restrict out1, float* __restrict out2, float* __restrict out3, int64_t tw) {
    for (int64_t tx = 0; tx < tw; ++tx) {
        out0[tx] = a[tx];
        out1[tx] = a[tx] + b[tx];
        out2[tx] = a[tx] - b[tx];
        out3[tx] = -b[tx];
    }
}

// One output row of a row of tiles: t_j = sign m_first,j + m1j + sign m2j (row i of A^T m:
// i = 0: m0 + m1 + m2, first = m0, sign 1; i = 1: m1 - m2 - m3, first = m3, sign -1), then
// along the row left = t0 + t1 + t2 (y[2tx]), right = t1 - t2 - t3 (y[2tx+1]).
void output_row(const float* __restrict first, const float* __restrict m1, const float* __restrict m2, int64_t ms,
                float sign, float* __restrict left, float* __restrict right, int64_t tw) {
    for (int64_t tx = 0; tx < tw; ++tx) {
        float t[4];
        for (int j = 0; j < 4; ++j) t[j] = sign * first[j * ms + tx] + m1[j * ms + tx] + sign * m2[j * ms + tx];
        left[tx] = t[0] + t[1] + t[2];
        right[tx] = t[1] - t[2] - t[3];
    }
}

// V[xi][ty*tw + tx] = (B^T d B)[xi] for the tiles of row ty of one channel (v: that channel's
// rows, vs apart per xi). B^T's rows take d0-d2, d1+d2, d2-d1, d1-d3: along each patch row i
// first (r[i][j]), then down the columns.
void input_transform_row(const float* xc, int64_t H, int64_t W, int64_t pad, int64_t tw, int64_t ty, float* v,
                         int64_t vs, float* scratch) {
    const int64_t n = tw + 2;  // scratch row length
    float* even = scratch + 16 * n;
    float* odd = even + n;
    float* padded = odd + n;  // 2n floats
    const auto r = [&](int i, int j) { return scratch + (i * 4 + j) * n; };
    for (int i = 0; i < 4; ++i) {
        split_row(xc, 2 * ty - pad + i, H, W, pad, tw, even, odd, padded);
        // d_j = row[2tx + j]: d0 = even[tx], d1 = odd[tx], d2 = even[tx+1], d3 = odd[tx+1]
        transform_4(even, odd, even + 1, odd + 1, r(i, 0), r(i, 1), r(i, 2), r(i, 3), tw);
    }
    for (int j = 0; j < 4; ++j)  // down the columns: V[i'*4 + j]
        transform_4(r(0, j), r(1, j), r(2, j), r(3, j), v + j * vs, v + (4 + j) * vs, v + (8 + j) * vs,
                    v + (12 + j) * vs, tw);
}

// Output rows 2ty and 2ty+1 of one channel (y) from M's tiles of row ty (m: that channel's rows,
// ms apart per xi): y = A^T m A, A^T's rows taking m0+m1+m2 and m1-m2-m3, down then along.
void output_transform_row(const float* m, int64_t ms, int64_t tw, int64_t ty, int64_t Ho, int64_t Wo, float* y,
                          bool accumulate, float* scratch) {
    float* left = scratch;        // y[oh][2tx]
    float* right = scratch + tw;  // y[oh][2tx + 1]
    for (int i = 0; i < 2 && 2 * ty + i < Ho; ++i) {
        if (i == 0)
            output_row(m, m + 4 * ms, m + 8 * ms, ms, 1.0f, left, right, tw);
        else
            output_row(m + 12 * ms, m + 4 * ms, m + 8 * ms, ms, -1.0f, left, right, tw);
        float* out = y + (2 * ty + i) * Wo;
        const int64_t pairs = Wo / 2;  // the last tile may hang over the edge
        if (accumulate) {
            for (int64_t tx = 0; tx < pairs; ++tx) {
                out[2 * tx] += left[tx];
                out[2 * tx + 1] += right[tx];
            }
            if (Wo % 2) out[Wo - 1] += left[pairs];
        } else {
            for (int64_t tx = 0; tx < pairs; ++tx) {
                out[2 * tx] = left[tx];
                out[2 * tx + 1] = right[tx];
            }
            if (Wo % 2) out[Wo - 1] = left[pairs];
        }
    }
}

// The weight gradient's transform of dy (winograd.h): for the tiles of row ty of one output
// channel, U[xi][ty*tw + tx] = (A dy A^T)[xi] of the tile's 2x2 dy (0 past the output's edge);
// A's rows take (y0, y0+y1, y0-y1, -y1), along each dy row first, then down.
void gradient_transform_row(const float* dyf, int64_t Ho, int64_t Wo, int64_t tw, int64_t ty, float* u, int64_t us,
                            float* scratch) {
    const int64_t n = tw + 2;
    const auto r = [&](int i, int j) { return scratch + (i * 4 + j) * n; };  // rows i = 0, 1 of the tile
    float* left = scratch + 8 * n;   // dy[oh][2tx]
    float* right = left + n;         // dy[oh][2tx + 1]
    for (int i = 0; i < 2; ++i) {
        const int64_t oh = 2 * ty + i;
        std::fill_n(left, tw, 0.0f);
        std::fill_n(right, tw, 0.0f);
        if (oh < Ho)
            for (int64_t q = 0; q < Wo; ++q) (q % 2 == 0 ? left : right)[q / 2] = dyf[oh * Wo + q];
        transform_2(left, right, r(i, 0), r(i, 1), r(i, 2), r(i, 3), tw);
    }
    for (int j = 0; j < 4; ++j)  // down: xi = i'*4 + j
        transform_2(r(0, j), r(1, j), u + j * us, u + (4 + j) * us, u + (8 + j) * us, u + (12 + j) * us, tw);
}

}  // namespace

namespace {

// V[xi] (C, T) = B^T d B of every tile of every channel of one image x (C, H, W).
void transform_input(const WinogradShape& s, const float* x, float* V, float* rows) {
    for (int64_t c = 0; c < s.C; ++c)
        for (int64_t ty = 0; ty < s.tiles_h(); ++ty)
            input_transform_row(x + c * s.H * s.W, s.H, s.W, s.pad, s.tiles_w(), ty, V + c * s.T() + ty * s.tiles_w(),
                                s.v_stride(), rows);
}

}  // namespace

void winograd_weights(const float* weight, int64_t F, int64_t C, bool flipped, float* U) {
    for (int64_t f = 0; f < F; ++f)
        for (int64_t c = 0; c < C; ++c) {
            float g[3][3];
            // flipped: the layer's weight is (C, F, 3, 3) here; take w[c][f] turned 180 degrees.
            const float* w = flipped ? weight + (c * F + f) * 9 : weight + (f * C + c) * 9;
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) g[i][j] = flipped ? w[(2 - i) * 3 + (2 - j)] : w[i * 3 + j];
            float u[4][4];
            kernel_transform(g, u);
            for (int xi = 0; xi < 16; ++xi) U[(xi * F + f) * C + c] = u[xi / 4][xi % 4];
        }
}

void winograd_conv_image(const WinogradShape& s, const float* U, const float* x, float* y, bool accumulate,
                         float* workspace, const Gemm& gemm) {
    const int64_t C = s.C, F = s.F, T = s.T(), th = s.tiles_h(), tw = s.tiles_w();
    const int64_t vs = s.v_stride(), ms = s.m_stride();
    float* V = workspace;       // 16 x (C, T), vs apart
    float* M = V + 16 * vs;     // 16 x (F, T), ms apart
    float* rows = M + 16 * ms;  // row_scratch()
    transform_input(s, x, V, rows);
    // M[xi] (F, T) = U[xi] (F, C) V[xi] (C, T)
    for (int xi = 0; xi < 16; ++xi)
        gemm.on_this_thread(false, false, F, T, C, 1.0f, U + xi * F * C, static_cast<int>(C), V + xi * vs,
                            static_cast<int>(T), 0.0f, M + xi * ms, static_cast<int>(T));
    for (int64_t f = 0; f < F; ++f)
        for (int64_t ty = 0; ty < th; ++ty)
            output_transform_row(M + f * T + ty * tw, ms, tw, ty, s.Ho(), s.Wo(), y + f * s.Ho() * s.Wo(), accumulate,
                                 rows);
}

}  // namespace bnlab::detail

namespace bnlab::detail {

void winograd_weight_grad_image(const WinogradShape& s, const float* x, const float* dy, float* Mw, float* workspace,
                                const Gemm& gemm) {
    const int64_t C = s.C, F = s.F, T = s.T(), tw = s.tiles_w();
    const int64_t vs = s.v_stride(), ms = s.m_stride();
    float* V = workspace;       // 16 x (C, T)
    float* D = V + 16 * vs;     // 16 x (F, T): the transformed dy
    float* rows = D + 16 * ms;
    transform_input(s, x, V, rows);
    for (int64_t f = 0; f < F; ++f)
        for (int64_t ty = 0; ty < s.tiles_h(); ++ty)
            gradient_transform_row(dy + f * s.Ho() * s.Wo(), s.Ho(), s.Wo(), tw, ty, D + f * T + ty * tw, ms, rows);
    // Mw[xi] (F, C) += D[xi] (F, T) V[xi]^T (T, C): the sum over this image's tiles
    for (int xi = 0; xi < 16; ++xi)
        gemm.on_this_thread(false, true, F, C, T, 1.0f, D + xi * ms, static_cast<int>(T), V + xi * vs,
                            static_cast<int>(T), 1.0f, Mw + xi * F * C, static_cast<int>(C));
}

void winograd_weight_grad_finish(const float* Mw, int64_t F, int64_t C, float* dweight) {
    // dW = G^T m G per (f, c); G^T's rows take m0 + (m1+m2)/2, (m1-m2)/2, (m1+m2)/2 + m3.
    const auto g_t = [](const float m[4], float out[3]) {
        out[0] = m[0] + 0.5f * (m[1] + m[2]);
        out[1] = 0.5f * (m[1] - m[2]);
        out[2] = 0.5f * (m[1] + m[2]) + m[3];
    };
    for (int64_t f = 0; f < F; ++f)
        for (int64_t c = 0; c < C; ++c) {
            float m[4][4], down[3][4];
            for (int xi = 0; xi < 16; ++xi) m[xi / 4][xi % 4] = Mw[(xi * F + f) * C + c];
            for (int j = 0; j < 4; ++j) {  // down the columns
                const float column[4] = {m[0][j], m[1][j], m[2][j], m[3][j]};
                float out[3];
                g_t(column, out);
                for (int i = 0; i < 3; ++i) down[i][j] = out[i];
            }
            float* dw = dweight + (f * C + c) * 9;
            for (int i = 0; i < 3; ++i) {  // then along the rows
                float out[3];
                g_t(down[i], out);
                for (int j = 0; j < 3; ++j) dw[i * 3 + j] += out[j];
            }
        }
}

}  // namespace bnlab::detail
