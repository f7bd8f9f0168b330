/** A text message to a mainland mobile number, rendered from a template. */
export type SmsMessage = { phone: string; template: 'login_code'; params: Record<string, string> };

export type SmsReceipt = { provider: string; messageId: string | null };

/**
 * The port SMS providers plug into. The outbox provider (development) delivers nothing and lets the
 * API and logs show the code; a carrier adapter (Aliyun, Tencent Cloud) implements the same method.
 */
export interface SmsSender {
  readonly provider: string;
  send(message: SmsMessage): Promise<SmsReceipt>;
}

export function renderSms(message: SmsMessage): string {
  switch (message.template) {
    case 'login_code':
      return `【智慧社区】您的登录验证码是${message.params['code']}，5分钟内有效。如非本人操作，请忽略本短信。`;
  }
}
