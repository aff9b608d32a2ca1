"""The tutorial's TensorFlow 1 denoising autoencoder, run as written (tf.compat.v1).

Only the data loading is re-created: tensorflow.examples.tutorials.mnist is gone
from TF 2, so read_data_sets' semantics are reproduced (first 5000 training
images held out as validation, 55000 left, pixels scaled to [0,1], a fresh
shuffle each epoch).  Usage: seed_tf.py MNIST_DIR {1|2} [epochs] [seed]
Prints one line per epoch: 'Epoch: N cost: C', then 'seconds: S'.
"""
import os, sys, time
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()

def idx(path):
    raw = open(path, 'rb').read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)

class DataSet:
    def __init__(self, images, rng):
        self.images = images.reshape(len(images), -1).astype(np.float32) / 255.0
        self.n, self.rng, self.pos, self.perm = len(images), rng, 0, None
    def next_batch(self, b):
        if self.perm is None or self.pos + b > self.n:
            self.perm, self.pos = self.rng.permutation(self.n), 0
        idxs = self.perm[self.pos:self.pos + b]
        self.pos += b
        return self.images[idxs], None

data_dir, depth = sys.argv[1], int(sys.argv[2])
epoch_num = int(sys.argv[3]) if len(sys.argv) > 3 else 20
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
np.random.seed(seed); tf.set_random_seed(seed)
train = DataSet(idx(os.path.join(data_dir, 'train-images-idx3-ubyte'))[5000:], np.random.RandomState(seed))
test_images = idx(os.path.join(data_dir, 't10k-images-idx3-ubyte')).reshape(10000, -1).astype(np.float32) / 255.0

batch_size, learning_rate, n_input, noise_level = 100, 0.01, 28 * 28, 0.6
n_hidden1, n_hidden2 = 256, 128
X_noisy = tf.placeholder(tf.float32, [None, n_input])
Y = tf.placeholder(tf.float32, [None, n_input])
def layer(x, n_in, n_out):
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
# dfdx-style Adam (replaces tf.train.AdamOptimizer(learning_rate).minimize(cost)):
#   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
#   m_hat = m/(1-b1^t);   v_hat = v/(1-b2^t)
#   p -= lr * m_hat / (sqrt(v_hat) + eps)
# (TF1's AdamOptimizer instead uses lr_t = lr*sqrt(1-b2^t)/(1-b1^t), p -= lr_t*m/(sqrt(v)+eps).)
beta1, beta2, adam_eps = 0.9, 0.999, 1e-8
tvars = tf.trainable_variables()
grads = tf.gradients(cost, tvars)
adam_step = tf.Variable(0., trainable=False, name='adam_step')
adam_m = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in tvars]
adam_v = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in tvars]
# every assign below depends on the gradients and on the cost, so the cost fetched
# in the same sess.run is the pre-update cost (as with the original optimizer)
with tf.control_dependencies(grads + [cost]):
    t = adam_step.assign_add(1.)
    bc1 = 1. - tf.pow(beta1, t)
    bc2 = 1. - tf.pow(beta2, t)
    updates = []
    for p, g, m, v in zip(tvars, grads, adam_m, adam_v):
        m_new = m.assign(beta1 * m + (1. - beta1) * g)
        v_new = v.assign(beta2 * v + (1. - beta2) * tf.square(g))
        m_hat = m_new / bc1
        v_hat = v_new / bc2
        updates.append(p.assign_sub(learning_rate * m_hat / (tf.sqrt(v_hat) + adam_eps)))
optimizer = tf.group(*updates)

t0 = time.time()
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    total_batch = int(train.n / batch_size)
    for epoch in range(epoch_num):
        avg_cost = 0
        for i in range(total_batch):
            batch_xs, _ = train.next_batch(batch_size)
            batch_x_noisy = batch_xs + noise_level * np.random.normal(loc=0., scale=1., size=batch_xs.shape)
            _, cost_val = sess.run([optimizer, cost], feed_dict={X_noisy: batch_x_noisy, Y: batch_xs})
            avg_cost += cost_val / total_batch
        print('Epoch:', '%d' % (epoch + 1), 'cost:', '{:9f}'.format(avg_cost), flush=True)
    noisy_test = test_images + noise_level * np.random.normal(size=test_images.shape)
    print('test_cost: %.6f' % sess.run(cost, feed_dict={X_noisy: noisy_test, Y: test_images}))
print('seconds: %.1f' % (time.time() - t0))
