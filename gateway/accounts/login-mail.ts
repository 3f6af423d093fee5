/**
 * The login mail. Its two key lines are docs/protocol.md's, word for word: clients and people
 * look for `Your confirmation code is: ` and `Or confirm by opening: `.
 */
export function loginMail(input: { registryUrl: string; email: string; code: string; link: string; validMinutes: number }): { subject: string; text: string } {
  return {
    subject: 'Your Gren package registry login',
    text: [
      'Hello,',
      '',
      `Someone asked to log in to the Gren package registry (${input.registryUrl}) as ${input.email}.`,
      '',
      `Your confirmation code is: ${input.code}`,
      `Or confirm by opening: ${input.link}`,
      '',
      `The code and the link work once, for ${input.validMinutes} minutes.`,
      'If you did not ask to log in, ignore this mail: nobody can log in without them.',
      '',
    ].join('\n'),
  };
}
