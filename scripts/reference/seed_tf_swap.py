"""The tutorial's TensorFlow 1 program (seed_tf.py) with some of its draws taken from runner.

Usage: seed_tf_swap.py MNIST_DIR {1|2} EPOCHS SEED DRAWS_DIR WHAT

DRAWS_DIR is a runner-trace folder of the same depth and seed covering EPOCHS epochs
(`runner-trace EXPERIMENT --run ID --steps $((EPOCHS * 550)) --out DRAWS_DIR`). WHAT is a
comma-separated subset of:

  init   the initial weights and biases are runner's (init_w*.npy, init_b*.npy)
  order  the batches are runner's (indices.npy, rows of the 55000 training images)
  noise  the noise is runner's: noisy - clean of each step, divided by the noise level,
         added to whichever batch this program feeds (noisy.npy, clean.npy)

Everything else, and all arithmetic, is the tutorial's program as seed_tf.py runs it
(TensorFlow 1 graph, tf.train.AdamOptimizer). Each draw not taken from runner comes from
the program's own generators exactly as in seed_tf.py, so WHAT = "" reproduces it.
Prints the same lines as seed_tf.py: 'Epoch: N cost: C', 'test_cost: T', 'seconds: S'.
"""
import os, sys, time
import numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()

def idx(path):
    raw = open(path, 'rb').read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)

data_dir, depth, epoch_num, seed, draws, what = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
what = set(w for w in what.split(',') if w)
unknown = what - {"init", "order", "noise"}
if unknown:
    sys.exit(f"unknown draws to swap: {sorted(unknown)}")
np.random.seed(seed); tf.set_random_seed(seed)
images = idx(os.path.join(data_dir, 'train-images-idx3-ubyte'))[5000:].reshape(55000, -1).astype(np.float32) / 255.0
test_images = idx(os.path.join(data_dir, 't10k-images-idx3-ubyte')).reshape(10000, -1).astype(np.float32) / 255.0
perm_rng = np.random.RandomState(seed)

batch_size, learning_rate, n_input, noise_level = 100, 0.01, 28 * 28, 0.6
n_hidden1, n_hidden2 = 256, 128
total_batch = 55000 // batch_size
steps = epoch_num * total_batch
load = lambda name: np.load(os.path.join(draws, name + ".npy"), mmap_mode="r")
if what & {"order", "noise"}:
    indices, noisy, clean = load("indices"), load("noisy"), load("clean")
    if indices.shape[0] < steps:
        sys.exit(f"{draws} covers {indices.shape[0]} steps, {steps} needed")
X_noisy = tf.placeholder(tf.float32, [None, n_input])
Y = tf.placeholder(tf.float32, [None, n_input])
count = [0]
def layer(x, n_in, n_out):
    i = count[0]; count[0] += 1
    if "init" in what:
        W = tf.Variable(np.asarray(load(f"init_w{i}")))
        b = tf.Variable(np.asarray(load(f"init_b{i}")))
    else:
        W = tf.Variable(tf.random_uniform([n_in, n_out], -1., 1.))
        b = tf.Variable(tf.random_uniform([n_out], -1., 1.))
    return tf.nn.sigmoid(tf.add(tf.matmul(x, W), b))
if depth == 1:
    output = layer(layer(X_noisy, n_input, n_hidden1), n_hidden1, n_input)
else:
    h1 = layer(X_noisy, n_input, n_hidden1)
    h2 = layer(h1, n_hidden1, n_hidden2)
    output = layer(layer(h2, n_hidden2, n_hidden1), n_hidden1, n_input)
cost = tf.reduce_mean(tf.square(Y - output))
optimizer = tf.train.AdamOptimizer(learning_rate).minimize(cost)

t0 = time.time()
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    step = 0
    for epoch in range(epoch_num):
        avg_cost = 0
        perm = perm_rng.permutation(55000)
        for i in range(total_batch):
            rows = indices[step] if "order" in what else perm[i * batch_size:(i + 1) * batch_size]
            batch_xs = images[rows]
            if "noise" in what:
                z = (np.asarray(noisy[step], np.float64) - clean[step].astype(np.float32) / np.float32(255)) / noise_level
            else:
                z = np.random.normal(loc=0., scale=1., size=batch_xs.shape)
            batch_x_noisy = batch_xs + noise_level * z
            _, cost_val = sess.run([optimizer, cost], feed_dict={X_noisy: batch_x_noisy, Y: batch_xs})
            avg_cost += cost_val / total_batch
            step += 1
        print('Epoch:', '%d' % (epoch + 1), 'cost:', '{:9f}'.format(avg_cost), flush=True)
    noisy_test = test_images + noise_level * np.random.normal(size=test_images.shape)
    print('test_cost: %.6f' % sess.run(cost, feed_dict={X_noisy: noisy_test, Y: test_images}))
print('seconds: %.1f' % (time.time() - t0))
