// Shim header for Debian's mbedtls 2.28 (libmbedtls-dev, a dependency of libnng-dev: NNG's TLS
// transport is built on it). intern uses it for HMAC-SHA256 (message authentication) and for
// making the campaign's certificate authority and certificates (`intern init-auth`).
#ifndef CMBEDTLS_SHIM_H
#define CMBEDTLS_SHIM_H

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <mbedtls/error.h>

#endif // CMBEDTLS_SHIM_H
