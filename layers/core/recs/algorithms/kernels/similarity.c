/* Item-item similarity: each row's top k of left @ right, rescaled, in one pass per row.
 *
 * The numpy path (recs.algorithms.knn.blocked_topk_product) multiplies a block of rows with
 * scipy's csr_matmat, rescales every product, masks the diagonal and the non-positive values,
 * and cuts each row to its top k: five passes over arrays as long as the block's products.
 * Here each row is accumulated into a dense scratch row and its touched columns are rescaled,
 * filtered and offered to a k-entry heap as they are read back, so nothing of the length of
 * the products is ever written.
 *
 * The results are bit for bit the numpy path's: the products accumulate in csr_matmat's order
 * (for each stored (u, v) of the left row, for each stored (c, w) of right's row u, in CSR
 * order, sums[c] += v * w in float32); a sum that is exactly zero is dropped as csr_matmat
 * drops it; the rescaling is the same float32 expression (the library is built with
 * -ffp-contract=off so no multiply-add is fused); ties at the cut go to the lower column.
 *
 * No global state: scratch is allocated per call, so calls on disjoint row ranges run on
 * several threads at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Each left entry (a user of the item) points at a random row of right (that user's items):
 * reading those rows is most of the time, and waiting for them in turn most of that. The
 * offsets of the rows OFFSETS_AHEAD entries ahead and the rows ROW_AHEAD entries ahead (their
 * first and last entries: a shopper's row is a cache line or two) are fetched while this one
 * is summed. Prefetches neither fault nor change a result. */
#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif
enum { OFFSETS_AHEAD = 16, ROW_AHEAD = 8 };

/* How products become similarities: similarity.py's Rescale modes. */
enum {
    RESCALE_NONE = 0,          /* the products themselves */
    RESCALE_COSINE = 1,        /* sum / (row_norm[r] * col_norm[c] + shrink) */
    RESCALE_COLUMN_WEIGHT = 2, /* sum * col_weight[c] */
};

/* A kept entry as one integer that orders as the cut does: a larger key is a larger value,
 * then a lower column. Only values > 0 (not NaN) are keyed, whose IEEE bits order as
 * unsigned integers. */
static inline uint64_t rank_key(float value, int32_t col) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return ((uint64_t)bits << 32) | (uint64_t)(UINT32_MAX - (uint32_t)col);
}

static inline int32_t key_col(uint64_t key) {
    return (int32_t)(UINT32_MAX - (uint32_t)(key & UINT32_MAX));
}

static inline float bits_value(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Restore the min-heap below heap[i] (heap[0] is the smallest key of the n). */
static void sift_down_min(uint64_t *heap, int64_t n, int64_t i) {
    uint64_t item = heap[i];
    for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && heap[child + 1] < heap[child]) child++;
        if (heap[child] >= item) break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = item;
}

static void sift_up_min(uint64_t *heap, int64_t i) {
    uint64_t item = heap[i];
    while (i > 0) {
        int64_t parent = (i - 1) / 2;
        if (heap[parent] <= item) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

/* Moves a[i] down the max-heap a[0..n) to its place. */
static void sift_down_keys(uint64_t *a, int64_t i, int64_t n) {
    const uint64_t item = a[i];
    for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && a[child + 1] > a[child]) child++;
        if (a[child] <= item) break;
        a[i] = a[child];
        i = child;
    }
    a[i] = item;
}

/* Ascending heapsort of n keys (k is small; no recursion, no worst case). */
static void sort_ascending(uint64_t *a, int64_t n) {
    for (int64_t start = n / 2 - 1; start >= 0; start--) sift_down_keys(a, start, n);
    for (int64_t end = n - 1; end > 0; end--) {
        const uint64_t top = a[0];
        a[0] = a[end];
        a[end] = top;
        sift_down_keys(a, 0, end);
    }
}

/* For rows start..stop-1 of left (CSR: int64 indptr, int32 indices, float32 data) times right
 * (the same, n_cols columns): each row's top k of the rescaled products, the diagonal
 * (column == row) and values not > 0 left out, written row after row into out_indices and
 * out_data (room for (stop - start) * min(k, n_cols) entries), each row's sorted by column;
 * out_counts[r - start] is row r's number of entries. row_norm, col_norm and col_weight may be
 * NULL where mode does not read them. Returns the number of entries written, -1 when out of
 * memory. */
int64_t recs_similarity_topk(
    int64_t start, int64_t stop,
    const int64_t *left_indptr, const int32_t *left_indices, const float *left_data,
    const int64_t *right_indptr, const int32_t *right_indices, const float *right_data,
    int64_t n_cols, int64_t k,
    int64_t mode, const float *row_norm, const float *col_norm, float shrink,
    const float *col_weight,
    int64_t *out_counts, int32_t *out_indices, float *out_data) {
    if (stop <= start) return 0;
    if (k > n_cols) k = n_cols;
    if (k <= 0) {
        memset(out_counts, 0, (size_t)(stop - start) * sizeof *out_counts);
        return 0;
    }
    float *sums = calloc((size_t)n_cols, sizeof *sums);
    unsigned char *seen = calloc((size_t)n_cols, 1);
    int32_t *touched = malloc((size_t)n_cols * sizeof *touched);
    uint64_t *heap = malloc((size_t)k * sizeof *heap);
    if (!sums || !seen || !touched || !heap) {
        free(sums); free(seen); free(touched); free(heap);
        return -1;
    }
    int64_t written = 0;
    const int64_t last = left_indptr[stop];
    for (int64_t r = start; r < stop; r++) {
        int64_t n_touched = 0;
        for (int64_t jj = left_indptr[r]; jj < left_indptr[r + 1]; jj++) {
            if (jj + OFFSETS_AHEAD < last)
                PREFETCH(&right_indptr[left_indices[jj + OFFSETS_AHEAD]]);
            if (jj + ROW_AHEAD < last) {
                const int32_t next = left_indices[jj + ROW_AHEAD];
                const int64_t first = right_indptr[next], end = right_indptr[next + 1];
                if (end > first) {
                    PREFETCH(&right_indices[first]);
                    PREFETCH(&right_data[first]);
                    PREFETCH(&right_indices[end - 1]);
                    PREFETCH(&right_data[end - 1]);
                }
            }
            const int32_t u = left_indices[jj];
            const float v = left_data[jj];
            for (int64_t kk = right_indptr[u]; kk < right_indptr[u + 1]; kk++) {
                const int32_t c = right_indices[kk];
                sums[c] += v * right_data[kk];
                if (!seen[c]) {
                    seen[c] = 1;
                    touched[n_touched++] = c;
                }
            }
        }
        int64_t n_heap = 0;
        for (int64_t t = 0; t < n_touched; t++) {
            const int32_t c = touched[t];
            const float sum = sums[c];
            sums[c] = 0.0f;
            seen[c] = 0;
            if (!(sum != 0.0f) || c == r) continue; /* csr_matmat keeps no exact zero */
            float value;
            switch (mode) {
            case RESCALE_COSINE:
                value = sum / (row_norm[r] * col_norm[c] + shrink);
                break;
            case RESCALE_COLUMN_WEIGHT:
                value = sum * col_weight[c];
                break;
            default:
                value = sum;
            }
            if (!(value > 0.0f)) continue;
            const uint64_t key = rank_key(value, c);
            if (n_heap < k) {
                heap[n_heap] = key;
                sift_up_min(heap, n_heap++);
            } else if (key > heap[0]) {
                heap[0] = key;
                sift_down_min(heap, k, 0);
            }
        }
        /* The kept entries by column: the column in the high half sorts them. */
        for (int64_t i = 0; i < n_heap; i++) {
            const uint64_t key = heap[i];
            uint32_t bits = (uint32_t)(key >> 32);
            heap[i] = ((uint64_t)(uint32_t)key_col(key) << 32) | bits;
        }
        sort_ascending(heap, n_heap);
        for (int64_t i = 0; i < n_heap; i++) {
            const uint64_t entry = heap[i];
            out_indices[written + i] = (int32_t)(entry >> 32);
            out_data[written + i] = bits_value((uint32_t)(entry & UINT32_MAX));
        }
        out_counts[r - start] = n_heap;
        written += n_heap;
    }
    free(sums); free(seen); free(touched); free(heap);
    return written;
}
