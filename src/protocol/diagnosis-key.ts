// A diagnosis key: a Temporary Exposure Key of someone diagnosed, as it is validated,
// stored and published (protocol §3, §7). One shape from upload to key file.

export interface DiagnosisKey {
  /** 16 bytes. */
  keyData: Buffer;
  rollingStartIntervalNumber: number;
  /** 1 to 144 intervals of 10 minutes. */
  rollingPeriod: number;
  /** 0 to 8. */
  transmissionRiskLevel: number;
}
