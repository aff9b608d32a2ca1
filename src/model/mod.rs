//! The denoising autoencoder and its optimizer on dfdx.
